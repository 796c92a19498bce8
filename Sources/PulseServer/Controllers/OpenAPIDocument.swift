/// The OpenAPI 3.1 document of the HTTP API, served at `GET /openapi.json`.
///
/// It says what the server really does, status by status: `scripts/api-check`
/// (run by `scripts/test`) starts a `pulsegate` and has schemathesis check every
/// answer against it. Change it together with the controllers it describes.
///
/// It is kept here, in the binary, rather than as a SwiftPM resource: Pulsegate is
/// one self-contained executable, and a resource bundle would have to travel beside it.
enum OpenAPIDocument {
    static let json = #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "Pulsegate",
    "version": "0.1.0",
    "description": "A metrics gateway: push samples, read them back raw or downsampled, list what is stored. Every error is JSON, {\"error\": \"...\"}, with the status that fits. The live stream (WebSocket, /ws/metrics) is described in the README."
  },
  "paths": {
    "/history": {
      "get": {
        "operationId": "getHistory",
        "summary": "Stored samples of one metric, raw or downsampled",
        "description": "Points of every series of `metric` that the label matchers select, between `from` and `to` inclusive. Without `step` the raw points come back; with it, one point per non-empty bucket (buckets start at multiples of the step; a point's ts is its bucket's start). Beyond what the parameters' schemas say, the server answers 400 when `from` is after `to`, when the range is longer than `--max-query-range` (31 days by default), when a series would have more than 11,000 points (the message says which step to use), when more than `--max-query-series` series (1,000 by default) match, when `agg` comes without `step`, and when a parameter other than a label matcher is given twice.",
        "parameters": [
          {
            "name": "metric",
            "in": "query",
            "required": true,
            "description": "The metric's name.",
            "schema": { "$ref": "#/components/schemas/MetricName" },
            "example": "host_cpu_usage_ratio"
          },
          {
            "name": "from",
            "in": "query",
            "required": false,
            "description": "Start of the range, inclusive. Default: an hour before now.",
            "schema": { "$ref": "#/components/schemas/TimeText" },
            "example": "-1h"
          },
          {
            "name": "to",
            "in": "query",
            "required": false,
            "description": "End of the range, inclusive. Default: now.",
            "schema": { "$ref": "#/components/schemas/TimeText" },
            "example": "now"
          },
          {
            "name": "step",
            "in": "query",
            "required": false,
            "description": "Bucket width: a duration (`15s`, `1m`, `1h30m`; units ms, s, m, h, d, w, y, largest first, each at most once) or a number of milliseconds; must be positive. Omitted: raw points. A step of whole minutes is served from per-minute rollups, with the same result.",
            "schema": { "$ref": "#/components/schemas/Duration" },
            "example": "15s"
          },
          {
            "name": "points",
            "in": "query",
            "required": false,
            "description": "Instead of `step`: at most this many points per series. The step is the smallest round one that fits (1s, 2s, 5s, 10s, 15s, 30s, 1m, 2m, 5m, 10m, 15m, 30m, 1h, 2h, 3h, 6h, 12h, 1d, then whole days) and is returned as `step`; from a minute up it is served from the rollups.",
            "schema": { "type": "integer", "minimum": 1, "maximum": 11000 },
            "example": 1000
          },
          {
            "name": "agg",
            "in": "query",
            "required": false,
            "description": "How a bucket's samples become one point; only with `step` or `points`. Default: avg.",
            "schema": { "type": "string", "enum": ["avg", "min", "max", "sum", "last", "count"] }
          },
          {
            "name": "matchers",
            "in": "query",
            "required": false,
            "description": "Label matchers, each its own query parameter: `label=value` selects the series whose label equals the value, `label!=value` (the parameter named `label!`) those whose label differs. As in PromQL, an absent label equals \"\". At most 32. Names and values are decoded as forms encode them: `%XX` for a byte and `+` for a space.",
            "style": "form",
            "explode": true,
            "schema": { "$ref": "#/components/schemas/LabelMatchers" },
            "example": { "cpu": "all", "host!": "b" }
          }
        ],
        "responses": {
          "200": {
            "description": "The points, as JSON, or as CSV rows when the request says `Accept: text/csv`.",
            "content": {
              "application/json": {
                "schema": { "$ref": "#/components/schemas/History" }
              },
              "text/csv": {
                "schema": {
                  "type": "string",
                  "description": "A header line `ts,labels,value`, then one row per point: Unix ms, the series' labels in Prometheus's form (`{cpu=\"all\"}`, quoted for CSV), the value (`inf`, `-inf` or `nan` for an aggregate that is not finite)."
                },
                "example": "ts,labels,value\n1764470000000,\"{cpu=\"\"all\"\"}\",0.125\n"
              }
            }
          },
          "400": { "$ref": "#/components/responses/BadRequest" }
        }
      }
    },
    "/api/series": {
      "get": {
        "operationId": "listSeries",
        "summary": "Known metrics and their series, for pickers",
        "description": "Every stored series whose metric starts with `prefix`, grouped by metric and sorted, with the ts of its latest sample. Series without samples (all deleted by retention) are left out. At most ten times `--max-query-series` series (10,000 by default) are listed; there is no parameter for the limit.",
        "parameters": [
          {
            "name": "prefix",
            "in": "query",
            "required": false,
            "description": "The start of a metric name; empty or omitted: every metric.",
            "schema": {
              "type": "string",
              "maxLength": 200,
              "pattern": "^([a-zA-Z_:][a-zA-Z0-9_:]*)?$"
            },
            "example": "host_"
          }
        ],
        "responses": {
          "200": {
            "description": "The metrics and their series.",
            "content": {
              "application/json": {
                "schema": { "$ref": "#/components/schemas/Catalog" }
              }
            }
          },
          "400": { "$ref": "#/components/responses/BadRequest" }
        }
      }
    },
    "/ingest": {
      "post": {
        "operationId": "ingest",
        "summary": "Push samples",
        "description": "All or nothing: any invalid sample refuses the whole request with a 400 that lists every problem, and nothing of it is stored or broadcast. The answer comes after the samples are committed, so a 200 means durable. Beyond the body's schema, a push is refused with a 400 when it would create more than `--max-new-series-per-request` new series (10,000) or take the store past `--max-series` (1,000,000), and, for JSON, when `ts` is not written as an integer (`1e3`, `1.0`).",
        "parameters": [
          {
            "name": "Content-Encoding",
            "in": "header",
            "required": false,
            "description": "`gzip` for a gzip-compressed body (its inflated size is bounded by `--max-body-bytes` too); `identity` or none for a plain one. Any other encoding gets 415; a body that is not gzip gets 400.",
            "schema": {
              "type": "string",
              "pattern": "^([gG][zZ][iI][pP]|[iI][dD][eE][nN][tT][iI][tT][yY])$"
            }
          }
        ],
        "requestBody": {
          "required": true,
          "description": "JSON, or the Prometheus text exposition format 0.0.4 (`Content-Type: text/plain; version=0.0.4`). Other content types get 415.",
          "content": {
            "application/json": {
              "schema": { "$ref": "#/components/schemas/IngestRequest" },
              "example": { "samples": [{ "metric": "jobs_queued", "labels": { "queue": "mail" }, "ts": 1764470000000, "value": 12 }] }
            },
            "text/plain": {
              "schema": {
                "type": "string",
                "description": "Prometheus text exposition format 0.0.4: `name{label=\"value\",…} value [timestamp_ms]` lines, `# HELP` and `# TYPE` comments. NaN and ±Inf are refused, as is every non-finite value; the timestamp defaults to now."
              },
              "example": "# TYPE jobs_queued gauge\njobs_queued{queue=\"sms\"} 3 1764470000000\n"
            }
          }
        },
        "responses": {
          "200": {
            "description": "Every sample is committed.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": ["accepted"],
                  "additionalProperties": false,
                  "properties": {
                    "accepted": { "type": "integer", "minimum": 0, "description": "Samples stored." }
                  }
                },
                "example": { "accepted": 1 }
              }
            }
          },
          "400": {
            "description": "The request is refused as a whole: the body cannot be read, or samples are invalid (each problem is listed: for JSON `index` is the sample's position, for text the 1-based line number), or a series limit is reached (then `problems` is absent).",
            "content": {
              "application/json": {
                "schema": { "$ref": "#/components/schemas/IngestRefusal" },
                "example": { "error": "1 of 2 samples are invalid; nothing was stored", "problems": [{ "index": 1, "field": "labels.__x", "reason": "label names starting with \"__\" are reserved" }] }
              }
            }
          },
          "413": {
            "description": "The body, or what it inflates to, is larger than `--max-body-bytes` (8 MiB by default).",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
          },
          "415": {
            "description": "The content type is neither JSON nor text/plain, or the content encoding is neither gzip nor identity.",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
          },
          "503": {
            "description": "The store cannot write: nothing of the request is stored.",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
          }
        }
      }
    },
    "/healthz": {
      "get": {
        "operationId": "health",
        "summary": "The process is up, and what it is",
        "responses": {
          "200": {
            "description": "Up.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": ["status", "version", "uptime_seconds", "database"],
                  "additionalProperties": false,
                  "properties": {
                    "status": { "const": "ok" },
                    "version": { "type": "string" },
                    "uptime_seconds": { "type": "number", "minimum": 0 },
                    "database": { "type": "string", "description": "The SQLite file's path, as configured." }
                  }
                },
                "example": { "status": "ok", "version": "0.1.0", "uptime_seconds": 12.3, "database": "data/pulsegate.sqlite" }
              }
            }
          }
        }
      }
    },
    "/readyz": {
      "get": {
        "operationId": "ready",
        "summary": "The gateway can take samples now (readiness)",
        "responses": {
          "200": {
            "description": "Ready.",
            "content": { "application/json": { "schema": { "type": "object", "required": ["status"], "properties": { "status": { "const": "ready" } } } } }
          },
          "503": {
            "description": "The store cannot write (a full disk, say); pushes get 503 until it can.",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
          }
        }
      }
    },
    "/metrics": {
      "get": {
        "operationId": "metrics",
        "summary": "Prometheus exposition: Pulsegate's own instrumentation and the latest value of every live series",
        "responses": {
          "200": {
            "description": "Prometheus text format 0.0.4.",
            "content": {
              "text/plain; version=0.0.4; charset=utf-8": {
                "schema": { "type": "string" },
                "example": "# HELP pulsegate_ws_clients Live WebSocket clients connected now.\n# TYPE pulsegate_ws_clients gauge\npulsegate_ws_clients 2.0\n"
              }
            }
          }
        }
      }
    },
    "/openapi.json": {
      "get": {
        "operationId": "openAPI",
        "summary": "This document",
        "responses": {
          "200": {
            "description": "The OpenAPI 3.1 document of this API.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": ["openapi", "info", "paths"]
                }
              }
            }
          }
        }
      }
    }
  },
  "components": {
    "schemas": {
      "MetricName": {
        "type": "string",
        "description": "Prometheus's rule for metric names.",
        "minLength": 1,
        "maxLength": 200,
        "pattern": "^[a-zA-Z_:][a-zA-Z0-9_:]*$"
      },
      "LabelName": {
        "type": "string",
        "description": "Prometheus's rule for label names; names starting with `__` are reserved.",
        "minLength": 1,
        "maxLength": 128,
        "pattern": "^(_|[a-zA-Z][a-zA-Z0-9_]*|_[a-zA-Z0-9][a-zA-Z0-9_]*)$"
      },
      "Labels": {
        "type": "object",
        "description": "A series' labels: name to value.",
        "propertyNames": { "$ref": "#/components/schemas/LabelName" },
        "additionalProperties": { "type": "string" }
      },
      "TimeText": {
        "description": "A point in time: Unix milliseconds, RFC 3339, `now`, or relative to now (`-15m`, `now-1h`, `-1h30m`; a unit is required). Between 1970 and the end of 9999. In a URL a `+` is a space: write an offset as `%2B01:00`.",
        "anyOf": [
          { "title": "Unix ms", "type": "string", "pattern": "^[0-9]{1,15}$", "examples": ["1764470000000"] },
          { "title": "RFC 3339", "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$", "examples": ["2026-11-30T03:00:00Z", "2026-11-30T03:00:00.250+01:00"] },
          { "title": "now", "const": "now" },
          { "title": "relative", "type": "string", "pattern": "^(now)?-([0-9]+(ms|s|m|h|d|w|y))+$", "examples": ["-15m", "now-1h"] }
        ]
      },
      "Duration": {
        "type": "string",
        "description": "A duration: `500ms`, `15s`, `1m`, `1h30m`, `7d` (units largest first, each at most once), or a number of milliseconds.",
        "pattern": "^([0-9]{1,18}|([0-9]{1,18}(ms|s|m|h|d|w|y))+)$"
      },
      "LabelMatchers": {
        "type": "object",
        "description": "Query parameters other than metric, from, to, step, points and agg: a label name (`label=value`, equal) or a label name followed by `!` (`label!=value`, not equal).",
        "maxProperties": 32,
        "propertyNames": {
          "maxLength": 129,
          "pattern": "^(_|[a-zA-Z][a-zA-Z0-9_]*|_[a-zA-Z0-9][a-zA-Z0-9_]*)!?$",
          "not": { "enum": ["metric", "from", "to", "step", "points", "agg"] }
        },
        "additionalProperties": { "type": "string" }
      },
      "History": {
        "type": "object",
        "required": ["metric", "from", "to", "step", "agg", "complete_until", "series"],
        "additionalProperties": false,
        "properties": {
          "metric": { "type": "string" },
          "from": { "type": "integer", "description": "Unix ms, as resolved." },
          "to": { "type": "integer", "description": "Unix ms, as resolved." },
          "step": { "type": ["integer", "null"], "description": "Bucket width in ms; null for raw points." },
          "agg": { "enum": ["avg", "min", "max", "sum", "last", "count", null], "description": "null for raw points." },
          "complete_until": {
            "type": "integer",
            "description": "Every sample accepted with a ts up to this (Unix ms) is in the answer: resume the live stream with since_ts=complete_until for no gap and no duplicate."
          },
          "series": {
            "type": "array",
            "items": {
              "type": "object",
              "required": ["labels", "points"],
              "additionalProperties": false,
              "properties": {
                "labels": { "$ref": "#/components/schemas/Labels" },
                "points": {
                  "type": "array",
                  "maxItems": 11000,
                  "description": "[ts, value] pairs, ascending by ts.",
                  "items": {
                    "type": "array",
                    "prefixItems": [
                      { "type": "integer", "description": "Unix ms: the sample's, or its bucket's start." },
                      { "type": ["number", "null"], "description": "null when an aggregate is not a finite number (a sum or average beyond the largest double)." }
                    ],
                    "minItems": 2,
                    "maxItems": 2
                  }
                }
              }
            }
          }
        },
        "example": {
          "metric": "host_cpu_usage_ratio", "from": 1764466400000, "to": 1764470000000, "step": 15000, "agg": "avg",
          "complete_until": 1764469999000,
          "series": [{ "labels": { "cpu": "all" }, "points": [[1764466395000, 0.12]] }]
        }
      },
      "Catalog": {
        "type": "object",
        "required": ["metrics"],
        "additionalProperties": false,
        "properties": {
          "metrics": {
            "type": "array",
            "items": {
              "type": "object",
              "required": ["metric", "series"],
              "additionalProperties": false,
              "properties": {
                "metric": { "type": "string" },
                "series": {
                  "type": "array",
                  "items": {
                    "type": "object",
                    "required": ["labels", "last_ts"],
                    "additionalProperties": false,
                    "properties": {
                      "labels": { "$ref": "#/components/schemas/Labels" },
                      "last_ts": { "type": "integer", "description": "The ts of the series' latest sample, Unix ms." }
                    }
                  }
                }
              }
            }
          }
        },
        "example": { "metrics": [{ "metric": "host_cpu_usage_ratio", "series": [{ "labels": { "cpu": "0" }, "last_ts": 1764470000000 }] }] }
      },
      "Sample": {
        "type": "object",
        "required": ["metric", "value"],
        "additionalProperties": false,
        "properties": {
          "metric": { "$ref": "#/components/schemas/MetricName" },
          "labels": {
            "type": "object",
            "description": "At most 32 labels; values are not empty and at most 1,024 bytes of UTF-8.",
            "maxProperties": 32,
            "propertyNames": { "$ref": "#/components/schemas/LabelName" },
            "additionalProperties": { "type": "string", "minLength": 1, "maxLength": 1024 }
          },
          "ts": {
            "type": "integer",
            "description": "Unix milliseconds, a whole number (`1764470000000`, or as a float client writes it, `1764470000000.0` or `1.76447e12`); default: now.",
            "minimum": 0,
            "maximum": 253402300799999
          },
          "value": { "type": "number", "description": "A finite number." }
        }
      },
      "IngestRequest": {
        "type": "object",
        "required": ["samples"],
        "additionalProperties": false,
        "properties": {
          "samples": {
            "type": "array",
            "description": "At most `--max-samples-per-request` (100,000 by default).",
            "maxItems": 100000,
            "items": { "$ref": "#/components/schemas/Sample" }
          }
        }
      },
      "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
          "error": { "type": "string", "description": "What is wrong and what to change." }
        }
      },
      "IngestRefusal": {
        "type": "object",
        "required": ["error"],
        "additionalProperties": false,
        "properties": {
          "error": { "type": "string" },
          "problems": {
            "type": "array",
            "description": "At most 1,000.",
            "maxItems": 1000,
            "items": {
              "type": "object",
              "required": ["field", "reason"],
              "additionalProperties": false,
              "properties": {
                "index": { "type": "integer", "minimum": 0, "description": "The sample's position in `samples` (JSON) or its 1-based line number (text); absent for a problem of the whole request." },
                "field": { "type": "string", "description": "e.g. metric, value, ts, labels.cpu, sample, comment" },
                "reason": { "type": "string" }
              }
            }
          }
        }
      }
    },
    "responses": {
      "BadRequest": {
        "description": "A parameter is missing, malformed, or asks for more than the server gives; the message says what to change.",
        "content": {
          "application/json": {
            "schema": { "$ref": "#/components/schemas/Error" },
            "example": { "error": "metric is required, e.g. /history?metric=host_cpu_usage_ratio" }
          }
        }
      }
    }
  }
}
"""#
}
