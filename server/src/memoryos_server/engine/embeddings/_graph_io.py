"""Input and output names of the built sentence-encoder graph.

Kept apart from the builder so the runtime can use them without importing ``onnx``.
"""

INPUT_IDS = "input_ids"
ATTENTION_MASK = "attention_mask"
OUTPUT = "sentence_embedding"
