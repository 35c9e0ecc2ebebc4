-- documents.clause_count, kept by statement-level triggers on clauses so the
-- document list does not count clauses per row. Whatever way the worker
-- writes clauses (INSERT, COPY, DELETE + INSERT), the count follows.

ALTER TABLE documents ADD COLUMN clause_count integer NOT NULL DEFAULT 0;

UPDATE documents d SET clause_count = c.n
FROM (SELECT document_id, count(*) AS n FROM clauses GROUP BY document_id) c
WHERE c.document_id = d.id;

CREATE FUNCTION clauses_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE documents d SET clause_count = d.clause_count + c.n
    FROM (SELECT document_id, count(*) AS n FROM new_rows GROUP BY document_id) c
    WHERE c.document_id = d.id;
    RETURN NULL;
END $$;

CREATE FUNCTION clauses_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE documents d SET clause_count = greatest(d.clause_count - c.n, 0)
    FROM (SELECT document_id, count(*) AS n FROM old_rows GROUP BY document_id) c
    WHERE c.document_id = d.id;
    RETURN NULL;
END $$;

CREATE TRIGGER clauses_count_insert AFTER INSERT ON clauses
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION clauses_count_inserted();
CREATE TRIGGER clauses_count_delete AFTER DELETE ON clauses
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION clauses_count_deleted();
