// Package vision turns product photos into vectors.
package vision
