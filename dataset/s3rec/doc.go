// Package s3rec reads interaction sequences in the S3-Rec format (Amazon Beauty and
// its siblings): the one reader of that format, used by the service's import
// (`fusionrank import items|events --format s3rec`, through Items and Events) and by
// the offline evaluation (evaluation/s3rec).
//
// A sequences file has one line per user, "user item1 item2 …", items oldest first
// (plain or gzip-compressed); a user without items or a user twice is an error. Items
// are indexed densely in ascending id order (numeric when every id is an integer), so
// Beauty's item i has index i−1. An optional JSON file maps item ids to attribute ids
// (brand, categories), indexed densely the same way.
//
// The files carry order, not time: for the service each interaction is a purchase at
// Base plus its position in seconds, with id "s3:<user>:<position>".
package s3rec
