-- Vectors from different embedders (the offline hashing embedder, a
-- provider's model) share a dimension but not a meaning: each clause records
-- the embedder of its vector, and similarity search compares only clauses
-- of the same embedder.
ALTER TABLE clauses ADD COLUMN IF NOT EXISTS embedding_model text NOT NULL DEFAULT '';

-- Clauses stored before this migration: a document analysed without any
-- provider ("offline/..." with no "+provider") used the offline embedder.
-- The others keep '' (unknown) and only match each other.
UPDATE clauses c SET embedding_model = 'offline-hash-v1'
  FROM documents d
  WHERE d.id = c.document_id AND c.embedding IS NOT NULL AND c.embedding_model = ''
    AND d.analyzer LIKE 'offline/%' AND position('+' IN d.analyzer) = 0;
