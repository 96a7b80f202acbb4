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
	"Error": object(obj{
		"error": object(obj{"code": str(), "message": str()}, "code", "message"),
		"result": obj{"$ref": "#/components/schemas/BatchResult",
			"description": "On the answer of POST /v1/items:batch when the load stopped part way: exactly what was stored before it stopped."},
	}, "error"),
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
	"BatchResult": withDescription(object(obj{
		"accepted": integer(),
		"rejected": arr(object(obj{"line": integer(), "id": str(), "error": str()})),
		"stopped": withDescription(object(obj{"line": integer(), "error": str()}),
			"Present when the load stopped before the end of the body (then on an error answer's result): no line from this one on was stored."),
	}, "accepted", "rejected"), "Every line before stopped.line (every line when stopped is absent) was stored (counted in accepted) or is listed in rejected with the reason; a line that is not a valid item (bad JSON, a duplicate key, a NUL character or bytes that are not UTF-8 in a string, a bad field) is rejected on its own and the others still load."),
	"Event": object(obj{
		"event_id": str(), "user_id": str(), "item_id": str(),
		"type":      obj{"type": "string", "enum": []string{"view", "click", "add_to_cart", "purchase"}},
		"timestamp": obj{"type": "string", "format": "date-time"}, "request_id": str(), "session_id": str(),
	}, "event_id", "user_id", "item_id", "type", "timestamp"),
	"EventBatch": withDescription(object(obj{
		"events":     obj{"type": "array", "maxItems": MaxEventsPerCall, "items": ref("Event")},
		"user_token": withDescription(str(), "Required with a key of scope public: the shop's signed token for the user the events name (see usertoken); events naming any other user are rejected. Keys of scope read and above need none."),
	}, "events"), "Event ids are idempotent within an id space: keys of scope write and admin share one (rotating a key or adding one keeps idempotency), keys of scope read and public each have their own, so no public key can claim an id a trusted writer will send."),
	"EventResult": withDescription(object(obj{
		"accepted":   integer(),
		"duplicates": withDescription(integer(), "Exact replays of stored events (same id and payload): stored once."),
		"conflicts": withDescription(arr(object(obj{"index": integer(), "event_id": str(), "field": str(), "error": str()})),
			"Events whose id is already stored in the caller's id space with a different payload; field names the first that differs. Nothing of them is stored; the stored event stays."),
		"rejected": arr(object(obj{"index": integer(), "error": str()})), "warnings": arr(str()),
	}, "accepted", "duplicates", "conflicts", "rejected"), "Every event of the batch is counted in exactly one of accepted, duplicates, conflicts and rejected. A 5xx answer means the batch's transaction was not committed (a retry is safe: exact replays are duplicates)."),
	"Query": object(obj{"text": str(), "vectors": vectorMap,
		"image": obj{"type": "string", "format": "byte", "description": "a photo (JPEG, PNG, GIF or WebP), base64-encoded; encoded with the active image encoder"}}),
	"SearchBatch": object(obj{"searches": obj{"type": "array", "maxItems": 1000, "items": object(obj{
		"search_id": withDescription(str(), "The shop's id of the search; events carrying it as request_id are attributed to it."),
		"timestamp": obj{"type": "string", "format": "date-time"}, "user_id": str(), "query": ref("Query"),
		"items": withDescription(arr(object(obj{"id": str(), "score": withDescription(num(), "The engine's score, when it has one.")}, "id")), "The items shown, in the order shown (1 to 1000)."),
	}, "search_id", "timestamp", "items")}}, "searches"),
	"SearchResult": withDescription(object(obj{"accepted": integer()}, "accepted"), "Every search of the batch is stored (a search whose id and time were already stored is kept as it was); an invalid one fails the whole batch with a 400 naming its field."),
	"Filters":      object(obj{"category": arr(str()), "price_min": num(), "price_max": num()}),
	"RerankRequest": object(obj{
		"user_id": str(), "query": ref("Query"),
		"items": arr(object(obj{"id": str(), "score": withDescription(num(), "The search engine's score: any finite number; standardised within the request without overflow, so its scale does not matter.")}, "id")), "count": integer(), "explain": boolean(),
	}, "items"),
	"RerankBatchRequest": object(obj{"requests": withDescription(obj{"type": "array", "minItems": 1, "maxItems": MaxRerankBatch, "items": ref("RerankRequest")},
		"Each is answered as POST /v1/rerank would answer it alone; the rate limits and the in-flight cap count each one.")}, "requests"),
	"RerankBatch": object(obj{"results": withDescription(arr(object(obj{
		"status":  withDescription(integer(), "The status POST /v1/rerank would have answered this request with."),
		"ranking": ref("Ranking"),
		"error":   withDescription(object(obj{"code": str(), "message": str()}, "code", "message"), "The error POST /v1/rerank would have answered, when status is not 200; its field names are the request's own (items[3].id)."),
	}, "status")), "One result per request, in the order of requests.")}, "results"),
	"RecommendRequest": object(obj{"user_id": str(),
		"user_token": withDescription(str(), "With a key of scope public, the answer is personal only when this is the shop's valid token for user_id; otherwise it is the answer an unknown shopper gets, with personalized false and a warning. Explanations for public keys carry the attention weights but no features (co-visitation and popularity counts come from other shoppers)."),
		"count":      integer(), "exclude": arr(str()), "filters": ref("Filters"), "query": ref("Query"), "explain": boolean()}, "user_id"),
	"SearchRequest": object(obj{"query": ref("Query"), "user_id": str(), "count": integer(), "filters": ref("Filters"), "explain": boolean()}, "query"),
	"Ranking": object(obj{
		"request_id":    withDescription(str(), "Unique per answer: the caller's X-Request-ID (when valid) and a dot before random characters. Events carrying it are attributed to this answer."),
		"model_version": str(),
		"personalized":  withDescription(boolean(), "Whether the answer used what is known about user_id (false: no user, no profile available, or a public key without a valid user_token; warnings say why)."),
		"warnings":      arr(str()),
		"unknown_items": arr(str()),
		"image_encoder": withDescription(str(), "The image encoder version that encoded the query photo and the items' photos the answer compared (one version for both); absent without a photo."),
		"items": arr(object(obj{"id": str(), "score": num(), "source": str(), "image_url": str(), "explanation": object(obj{
			"fusion":        withDescription(str(), "The model's fusion mode (attention, early, late, off): how to read modalities and tokens. Attention: attention weights. Late: shares of each modality's and token's additive contribution to the score. Early: shares of what leaving it out changes. Off: the model reads no modality (features only). Absent in fallback answers."),
			"contributions": withDescription(obj{"type": "object", "additionalProperties": num()}, "Early and late fusion: each modality's signed contribution to the score (late: the terms of the sum; early: the change when it is left out)."),
			"modalities":    obj{"type": "object", "additionalProperties": num()},
			"tokens":        arr(object(obj{"token": str(), "weight": num()})),
			"features":      obj{"type": "object", "additionalProperties": num()},
		})}, "id", "score")),
	}, "request_id", "model_version", "items"),
	"UserFeatures": object(obj{
		"user_id": str(), "recent_items": arr(str()), "source": str(), "updated_at": str(),
		"profile": obj{"type": "object", "additionalProperties": object(obj{"dim": integer(), "norm": num()})},
	}, "user_id", "recent_items", "profile"),
	"ModelInfo": object(obj{
		"version": str(), "active": boolean(), "fusion": withDescription(str(), "The model's fusion mode: attention, early, late or off."), "created_at": str(), "activated_at": str(), "data_sha256": str(),
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
		if r.Scope > ScopeNone {
			op["security"] = []obj{{"bearer": []string{r.Scope.String()}}}
			for _, st := range []int{400, 401, 403, 404, 408, 409, 413, 429, 503} {
				responses[itoa(st)] = obj{"$ref": "#/components/responses/Error"}
			}
		}
		op["responses"] = responses
		item[strings.ToLower(r.Method)] = op
	}
	return obj{
		"openapi": "3.0.3",
		"info": obj{"title": "fusionrank", "version": "1",
			"description": "Recommendation and ranking with a cross-modal attention fusion scorer. Every /v1 call needs `Authorization: Bearer <key>` (the scheme in any case); scopes public < read < write < admin. " +
				"Keys of scope public are limited per key and per client address (429 with Retry-After). A request body must arrive within the body deadline (408, connection closed). " +
				"JSON bodies are objects; a key given twice (also in another case), a NUL character or bytes that are not UTF-8 in a string are 400s naming the field."},
		"paths": paths,
		"components": obj{
			"schemas":         schemas,
			"responses":       obj{"Error": obj{"description": "An error, in the one envelope.", "content": obj{"application/json": obj{"schema": ref("Error")}}}},
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer"}},
		},
	}
}

func withDescription(o obj, d string) obj {
	o["description"] = d
	return o
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

func (s *Server) openapi(c *gin.Context) { s.writeJSON(c, http.StatusOK, s.OpenAPI()) }
