-- Where each clause lies in the document: byte offsets into
-- documents.extracted_text (end exclusive) and the pages it spans (1-based,
-- counted from the form feeds between pages). The document viewer shows the
-- clause highlighted on its page; facts cite the clause their passage lies
-- in. NULL for clauses stored before this migration (analyze again).
ALTER TABLE clauses ADD COLUMN IF NOT EXISTS start_offset integer;
ALTER TABLE clauses ADD COLUMN IF NOT EXISTS end_offset integer;
ALTER TABLE clauses ADD COLUMN IF NOT EXISTS page_start integer;
ALTER TABLE clauses ADD COLUMN IF NOT EXISTS page_end integer;
