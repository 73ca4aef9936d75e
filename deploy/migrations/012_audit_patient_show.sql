-- 012: `ingestctl patient show` lists a patient's stored documents (metadata, not content):
-- a read of health data about one person, audited like `document show`. Applied by
-- deploy/local/stack in one transaction.
ALTER TABLE audit DROP CONSTRAINT audit_action_check;
ALTER TABLE audit ADD CONSTRAINT audit_action_check
    CHECK (action IN ('patient_oppose', 'patient_unoppose', 'patient_show', 'document_show',
                      'dict_train'));
