// Command fusionrank is the one binary of the service. Run it without arguments for the
// list of commands; each has --help.
//
//	fusionrank serve                     the HTTP API
//	fusionrank migrate                   apply the embedded SQL migrations
//	fusionrank keys create|list|revoke   API keys (only hashes are stored)
//	fusionrank import items|events FILE  bulk loads through COPY
//	fusionrank train                     train the fusion scorer and register it
//	fusionrank models list|activate|rollback|show|index
//	fusionrank eval s3rec|retail|rerank  offline evaluation
//
// This package is the only one that reads configuration (FUSIONRANK_* variables,
// overridable by flags) and wires the packages together. Main is a running server;
// end-to-end tests start one on port 0.
package main
