"""Layer 3: what is written, and how: the frame around every record and the values in it,
results, function records, and the origins of code for tracebacks."""
