package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

type obj = map[string]any

func str() obj            { return obj{"type": "string"} }
func num() obj            { return obj{"type": "number"} }
func integer() obj        { return obj{"type": "integer"} }
func boolean() obj        { return obj{"type": "boolean"} }
func arr(items obj) obj   { return obj{"type": "array", "items": items} }
func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }
func object(props obj, required ...string) obj {
	o := obj{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

var vectorMap = obj{"type": "object", "additionalProperties": arr(num()),
	"description": "modality name → vector of that modality's dimension (finite numbers)"}

var schemas = obj{
	"Error":  object(obj{"error": object(obj{"code": str(), "message": str()}, "code", "message")}, "error"),
	"Status": object(obj{"status": str(), "checks": obj{"type": "object", "additionalProperties": str()}}, "status"),
	"ItemInput": object(obj{
		"id": str(), "title": str(), "description": str(), "category": str(), "brand": str(),
		"price": num(), "attributes": obj{"type": "object"}, "active": obj{"type": "boolean", "default": true},
		"vectors":   vectorMap,
		"image_url": obj{"type": "string", "format": "uri", "description": "the photo's http(s) address: fetched by the service (public addresses only), shown to shoppers"},
		"image":     obj{"type": "string", "format": "byte", "description": "the photo's file (JPEG, PNG, GIF or WebP), base64-encoded; encoded at once"},
	}),
	"PutItemResult": object(obj{"id": str(), "created": boolean()}, "id", "created"),
	"ItemView": object(obj{
		"id": str(), "title": str(), "description": str(), "category": str(), "brand": str(),
		"price": num(), "attributes": obj{"type": "object"}, "active": boolean(),
		"modalities": obj{"type": "object", "additionalProperties": object(obj{"dim": integer()})},
		"created_at": str(), "updated_at": str(), "image_url": str(),
		"image_status": obj{"type": "string", "enum": []string{"pending", "ready", "failed"}}, "image_error": str(),
		"image_info": object(obj{"display_url": str(), "sha256": str(), "content_type": str(), "width": integer(), "height": integer(), "bytes": integer(), "encoders": arr(str())}),
	}, "id", "active", "modalities"),
	"ImageFile": obj{"type": "string", "format": "binary", "description": "a JPEG, PNG, GIF or WebP file"},
	"EncoderInfo": object(obj{
		"version": str(), "kind": obj{"type": "string", "enum": []string{"descriptor", "cnn", "onnx"}}, "dim": integer(),
		"active": boolean(), "target": boolean(), "encoded": integer(), "photos": integer(),
		"created_at": str(), "activated_at": str(),
		"metrics": obj{"type": "object", "additionalProperties": num()}, "config": obj{"type": "object"},
	}, "version", "kind", "dim", "active", "target"),
	"EncoderList": object(obj{"encoders": arr(ref("EncoderInfo"))}, "encoders"),
	"BatchResult": object(obj{"accepted": integer(), "rejected": arr(object(obj{"line": integer(), "id": str(), "error": str()}))}, "accepted", "rejected"),
	"Event": object(obj{
		"event_id": str(), "user_id": str(), "item_id": str(),
		"type":      obj{"type": "string", "enum": []string{"view", "click", "add_to_cart", "purchase"}},
		"timestamp": obj{"type": "string", "format": "date-time"}, "request_id": str(), "session_id": str(),
	}, "event_id", "user_id", "item_id", "type", "timestamp"),
	"EventBatch":  object(obj{"events": obj{"type": "array", "maxItems": MaxEventsPerCall, "items": ref("Event")}}, "events"),
	"EventResult": object(obj{"accepted": integer(), "duplicates": integer(), "rejected": arr(object(obj{"index": integer(), "error": str()})), "warnings": arr(str())}, "accepted", "duplicates", "rejected"),
	"Query": object(obj{"text": str(), "vectors": vectorMap,
		"image": obj{"type": "string", "format": "byte", "description": "a photo (JPEG, PNG, GIF or WebP), base64-encoded; encoded with the active image encoder"}}),
	"Filters": object(obj{"category": arr(str()), "price_min": num(), "price_max": num()}),
	"RerankRequest": object(obj{
		"user_id": str(), "query": ref("Query"),
		"items": arr(object(obj{"id": str(), "score": num()}, "id")), "count": integer(), "explain": boolean(),
	}, "items"),
	"RecommendRequest": object(obj{"user_id": str(), "count": integer(), "exclude": arr(str()), "filters": ref("Filters"), "query": ref("Query"), "explain": boolean()}, "user_id"),
	"SearchRequest":    object(obj{"query": ref("Query"), "user_id": str(), "count": integer(), "filters": ref("Filters"), "explain": boolean()}, "query"),
	"Ranking": object(obj{
		"request_id": str(), "model_version": str(), "personalized": boolean(), "warnings": arr(str()),
		"unknown_items": arr(str()), "image_encoder": str(),
		"items": arr(object(obj{"id": str(), "score": num(), "source": str(), "image_url": str(), "explanation": object(obj{
			"modalities": obj{"type": "object", "additionalProperties": num()},
			"tokens":     arr(object(obj{"token": str(), "weight": num()})),
			"features":   obj{"type": "object", "additionalProperties": num()},
		})}, "id", "score")),
	}, "request_id", "model_version", "items"),
	"UserFeatures": object(obj{
		"user_id": str(), "recent_items": arr(str()), "source": str(), "updated_at": str(),
		"profile": obj{"type": "object", "additionalProperties": object(obj{"dim": integer(), "norm": num()})},
	}, "user_id", "recent_items", "profile"),
	"ModelInfo": object(obj{
		"version": str(), "active": boolean(), "created_at": str(), "activated_at": str(), "data_sha256": str(),
		"metrics": obj{"type": "object", "additionalProperties": num()}, "config": obj{"type": "object"},
	}, "version", "active"),
	"ModelList": object(obj{"models": arr(ref("ModelInfo"))}, "models"),
	"ModelStatsList": object(obj{"models": arr(object(obj{
		"model_version": str(), "requests": integer(), "impressions": integer(), "clicks": integer(),
		"purchases": integer(), "ctr": num(), "conversion": num(),
	}))}, "models"),
}

// OpenAPI returns the OpenAPI 3 document of the routes this server serves.
func (s *Server) OpenAPI() map[string]any {
	paths := obj{}
	for _, r := range s.table {
		item, _ := paths[r.Path].(obj)
		if item == nil {
			item = obj{}
			paths[r.Path] = item
		}
		op := obj{"summary": r.Summary, "operationId": operationID(r)}
		var params []obj
		for _, seg := range strings.Split(r.Path, "/") {
			if strings.HasPrefix(seg, "{") {
				params = append(params, obj{"name": strings.Trim(seg, "{}"), "in": "path", "required": true, "schema": str()})
			}
		}
		if r.Path == "/v1/items/{id}/similar" {
			params = append(params,
				obj{"name": "count", "in": "query", "schema": integer()},
				obj{"name": "explain", "in": "query", "schema": boolean()})
		}
		if params != nil {
			op["parameters"] = params
		}
		if r.Request != "" {
			mt := r.RequestType
			if mt == "" {
				mt = "application/json"
			}
			content := obj{mt: obj{"schema": ref(r.Request)}}
			if r.Path == "/v1/search" || r.Path == "/v1/rerank" {
				content["multipart/form-data"] = obj{"schema": object(obj{
					"request": obj{"type": "string", "description": "the JSON request (" + r.Request + ") without query.image"},
					"image":   ref("ImageFile"),
				}, "image")}
			}
			op["requestBody"] = obj{"required": true, "content": content}
		}
		status := r.Status
		if status == 0 {
			status = http.StatusOK
		}
		resp := obj{"description": http.StatusText(status)}
		if r.Response != "" {
			resp["content"] = obj{"application/json": obj{"schema": ref(r.Response)}}
		} else if r.ContentType != "" {
			resp["content"] = obj{r.ContentType: obj{}}
		}
		responses := obj{itoa(status): resp}
		if r.Method == "PUT" && r.Path == "/v1/items/{id}" {
			responses["201"] = obj{"description": "Created", "content": obj{"application/json": obj{"schema": ref(r.Response)}}}
		}
		if strings.HasPrefix(r.Path, "/v1/") {
			op["security"] = []obj{{"bearer": []string{r.Scope.String()}}}
			for _, st := range []int{400, 401, 403, 404, 409, 413, 429, 503} {
				responses[itoa(st)] = obj{"$ref": "#/components/responses/Error"}
			}
		}
		op["responses"] = responses
		item[strings.ToLower(r.Method)] = op
	}
	return obj{
		"openapi": "3.0.3",
		"info": obj{"title": "fusionrank", "version": "1",
			"description": "Recommendation and ranking with a cross-modal attention fusion scorer. Every /v1 call needs `Authorization: Bearer <key>`; scopes public < read < write < admin."},
		"paths": paths,
		"components": obj{
			"schemas":         schemas,
			"responses":       obj{"Error": obj{"description": "An error, in the one envelope.", "content": obj{"application/json": obj{"schema": ref("Error")}}}},
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer"}},
		},
	}
}

func operationID(r Route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(r.Method))
	for _, seg := range strings.FieldsFunc(r.Path, func(c rune) bool { return c == '/' || c == ':' || c == '.' || c == '{' || c == '}' }) {
		b.WriteString(strings.ToUpper(seg[:1]) + seg[1:])
	}
	return b.String()
}

func itoa(n int) string { return strconv.Itoa(n) }

func (s *Server) openapi(c *gin.Context) { c.JSON(http.StatusOK, s.OpenAPI()) }
