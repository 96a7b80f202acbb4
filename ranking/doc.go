// Package ranking is the fusion scorer: a cross-modal attention layer that
// lets the tokens of a query attend over each candidate item's modality
// embeddings. It holds the forward pass (serving), the backward pass
// (training), an AdamW optimizer and the safetensors model file format.
//
// The package is pure computation: no I/O except encoding and decoding
// model files on an io.Reader or io.Writer, no context, no logging.
package ranking
