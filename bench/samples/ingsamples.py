"""Synthetic submissions for the demo, the integration tests and the benchmarks.

Every identifier is a test value from shared/DOMAIN.md or a synthetic INS under the test
identifier system (OID 1.2.250.1.213.1.4.10); no real person's data. Documents are generated
from a seed, so a run is reproducible. Standard library only.
"""

import base64
import hashlib
import json
import random

TEST_OID = "1.2.250.1.213.1.4.10"
TEST_INS = ["295109912611193", "253072B07300470", "253072A07300443", "279035121518989"]
TEST_FINESS = ["750712184", "010780054", "130783236"]
TEST_RPPS = ["10003456786", "10012345673"]


def ins_key(body13: str) -> str:
    """The two-digit key of a 13-character INS body (2A/2B count as 19/18)."""
    digits = body13.replace("2A", "19", 1) if body13[5:7] == "2A" else body13
    if body13[5:7] == "2B":
        digits = body13[:5] + "18" + body13[7:]
    return "%02d" % (97 - int(digits) % 97)


def synthetic_ins(rng: random.Random) -> str:
    """A well-formed INS for a synthetic patient (used only with the test OID)."""
    body = "%d%02d%02d%02d%03d%03d" % (
        rng.choice((1, 2)), rng.randrange(100), rng.randrange(1, 13),
        rng.randrange(1, 96), rng.randrange(1, 990), rng.randrange(1, 999))
    return body + ins_key(body)


def lab_report_xml(rng: random.Random, size: int, ident: str = "") -> bytes:
    """A CDA-like structured lab report of about `size` bytes."""
    head = ('<?xml version="1.0" encoding="UTF-8"?>\n<ClinicalDocument xmlns="urn:hl7-org:v3">'
            '<id extension="%s"/><code code="11502-2" codeSystem="2.16.840.1.113883.6.1"/>'
            '<title>Compte rendu d\'examens biologiques</title><component><structuredBody>'
            % ident)
    tests = ["Glycemie", "Creatinine", "Hemoglobine", "Leucocytes", "Plaquettes", "Sodium",
             "Potassium", "Cholesterol total", "TSH", "Ferritine", "CRP", "ALAT"]
    parts = [head]
    n = len(head)
    while n < size - 64:
        t = rng.choice(tests)
        row = ('<observation><code displayName="%s"/><value value="%.2f" unit="mmol/L"/>'
               '<interpretationCode code="%s"/></observation>\n'
               % (t, rng.uniform(0.1, 400), rng.choice("NLH")))
        parts.append(row)
        n += len(row)
    parts.append("</structuredBody></component></ClinicalDocument>\n")
    return "".join(parts).encode()


def pdf_like(rng: random.Random, size: int, ident: str = "") -> bytes:
    """Binary content shaped like a PDF (header, mostly incompressible body)."""
    body = rng.randbytes(max(0, size - 32))
    return (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n% " + ident.encode() + b"\n" + body +
            b"\n%%EOF\n")


def fhir_json(rng: random.Random, size: int, ident: str = "") -> bytes:
    """A FHIR R4 Bundle-like prescription of about `size` bytes."""
    entries = []
    n = 0
    while n < size - 200:
        e = {"resource": {"resourceType": "MedicationRequest", "status": "active",
                          "intent": "order",
                          "medicationCodeableConcept": {"text": rng.choice(
                              ["Paracetamol 1 g", "Amoxicilline 500 mg", "Metformine 850 mg"])},
                          "dosageInstruction": [{"text": "%d fois par jour" % rng.randrange(1, 4)}]}}
        entries.append(e)
        n += len(json.dumps(e))
    return json.dumps({"resourceType": "Bundle", "id": ident, "type": "document",
                       "entry": entries}).encode()


KINDS = {
    "lab": ("11502-2", "text/xml", "urn:ihe:lab:xd-lab:2008", lab_report_xml),
    "pdf": ("34112-3", "application/pdf", "urn:ihe:iti:xds-sd:pdf:2008", pdf_like),
    "fhir": ("57833-6", "application/fhir+json", "urn:hl7:fhir:r4", fhir_json),
}


def envelope(document_id: str, content: bytes, *, kind: str = "lab", version: int = 1,
             ins: str = TEST_INS[0], finess: str = TEST_FINESS[0], rpps: str = TEST_RPPS[0],
             title: str = "Compte rendu", created_at: str = "2026-11-28T09:30:00Z") -> dict:
    type_code, media_type, format_code, _ = KINDS[kind]
    env = {
        "document_id": document_id,
        "version": version,
        "patient": {"ins": ins, "oid": TEST_OID},
        "source": {"finess": finess},
        "type_code": type_code,
        "media_type": media_type,
        "format_code": format_code,
        "title": title,
        "created_at": created_at,
        "sha256": hashlib.sha256(content).hexdigest(),
        "content": base64.b64encode(content).decode(),
    }
    if rpps:
        env["author"] = {"rpps": rpps}
    return env


def submission_id(finess: str, document_id: str, version: int, content: bytes) -> str:
    """The gateway's deterministic submission id (common/ing_envelope.c)."""
    raw = (b"v1\0" + finess.encode() + b"\0" + document_id.encode() + b"\0" +
           str(version).encode() + b"\0" + hashlib.sha256(content).digest())
    return hashlib.sha256(raw).hexdigest()[:32]


def generate(seed: int, count: int, prefix: str, *, mix=(("lab", 0.7), ("pdf", 0.1),
                                                         ("fhir", 0.2)),
             sizes=None, patients=None):
    """Yields (envelope dict, content bytes) for `count` documents. Each content carries its
    document id, so two runs with the same seed and other prefixes are not duplicates."""
    rng = random.Random(seed)
    sizes = sizes or {"lab": (4096, 40960), "pdf": (50_000, 200_000), "fhir": (2048, 10240)}
    patients = patients or TEST_INS
    kinds = [k for k, _ in mix]
    weights = [w for _, w in mix]
    for i in range(count):
        kind = rng.choices(kinds, weights)[0]
        lo, hi = sizes[kind]
        doc_id = "%s-%06d" % (prefix, i)
        content = KINDS[kind][3](rng, rng.randrange(lo, hi + 1), doc_id)
        yield envelope(doc_id, content, kind=kind,
                       ins=rng.choice(patients), finess=rng.choice(TEST_FINESS)), content
