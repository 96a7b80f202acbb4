// Package photo reads product and query photos safely: it checks a file against
// limits from its header alone (bytes, sniffed type, pixel count: a decompression bomb
// is refused before a pixel is decoded), decodes JPEG, PNG, GIF and WebP, and fetches
// photos by URL without letting a caller reach the service's own network (every
// connection's address is checked when it is dialled, after name resolution and on
// every redirect).
//
// Errors are fusionrank errors with code Invalid whose message starts with the name of
// the field the photo came in (image, image_url, query.image), so the API answers
// them as 400s that say what to fix.
//
// Encoder is the port through which the feature store turns a decoded photo into a
// vector; the encoders themselves live elsewhere (package vision, an ONNX model).
package photo
