"""The OpenAPI description (ingest/openapi.json) and the gateway agree: every route it lists
answers, with a status the description documents for that operation, and every error body is
problem+json. Routes it does not list answer 404 problem+json."""

import json
import os
import uuid

import harness
from harness import check, ingsamples

SPEC = os.path.join(harness.ROOT, "ingest", "openapi.json")


def sample_request(path, method, op):
    """A reasonable request for an operation: valid bodies, a plausible path parameter."""
    concrete = path.replace("{submission_id}", uuid.uuid4().hex)
    body, headers = None, {}
    if method == "post":
        doc = ingsamples.envelope("OAS-" + uuid.uuid4().hex[:12],
                                  b"openapi route check " + uuid.uuid4().bytes)
        content = op["requestBody"]["content"]
        schema = content["application/json"]["schema"]
        body = [doc] if schema.get("type") == "array" else doc
    return concrete, body, headers


def test_every_route_answers_as_documented():
    with open(SPEC) as f:
        spec = json.load(f)
    with harness.Stack("openapi") as stack:
        stack.start_gateway()
        seen = 0
        for path, item in spec["paths"].items():
            for method, op in item.items():
                concrete, body, headers = sample_request(path, method, op)
                code, hdrs, resp = stack.request(method.upper(), concrete, body, headers)
                documented = set(op["responses"])
                check(str(code) in documented,
                      "%s %s answered %d, documented: %s (%s)" % (method.upper(), path, code,
                                                                 sorted(documented), resp))
                if code >= 400:
                    check(hdrs.get("content-type", "").startswith("application/problem+json")
                          and isinstance(resp, dict) and resp.get("status") == code
                          and resp.get("code"),
                          "%s %s: %d without a problem body: %s" % (method.upper(), path, code,
                                                                    resp))
                seen += 1
        check(seen >= 6, "the description lists only %d operations" % seen)
        # What the description does not list is a 404 problem; a wrong method is 405.
        code, hdrs, resp = stack.request("GET", "/v1/nowhere")
        check(code == 404 and hdrs.get("content-type", "").startswith("application/problem"),
              "unknown route: %d %s" % (code, resp))
        code, hdrs, resp = stack.request("DELETE", "/v1/documents")
        check(code == 405 and "allow" in hdrs, "wrong method: %d %s" % (code, hdrs))


if __name__ == "__main__":
    harness.run([test_every_route_answers_as_documented])
