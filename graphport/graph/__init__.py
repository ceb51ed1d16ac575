"""Reading and analysing graphs without TensorFlow: schema, loading, anatomy, edits, checks."""
