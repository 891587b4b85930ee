//! The route table the OpenAPI document is built from: one [`Op`] per (method, path) the
//! router serves. Keep it in step with `routes::api::router()` (a test checks both ways).

use super::{Auth, Op};
use serde_json::{json, Value};

fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}
fn list(name: &str) -> Value {
    json!({"type": "array", "items": r(name)})
}
fn s() -> Value {
    json!({"type": "string"})
}
fn time() -> Value {
    json!({"type": "string", "format": "date-time"})
}
fn int() -> Value {
    json!({"type": "integer", "minimum": 0})
}
fn obj(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required})
}

/// Every operation, by resource.
pub fn operations() -> Vec<Op> {
    let mut ops = vec![
        Op::new("get", "/healthz", "Health: 200 when the database answers.")
            .auth(Auth::Public)
            .ok(200, obj(json!({"status": s()}), &["status"])),
        Op::new(
            "get",
            "/metrics",
            "Counters in the Prometheus text format (no sign-in; nothing sensitive).",
        )
        .auth(Auth::Public)
        .ok_as(200, Some("text/plain"), s()),
        Op::new("get", "/api/v1/openapi.json", "This document.")
            .auth(Auth::Public)
            .ok(200, json!({"type": "object"})),
        // auth
        Op::new("post", "/api/v1/auth/token", "Sign in for an API token.")
            .auth(Auth::Public)
            .json(r("Credentials"))
            .ok(
                200,
                obj(json!({"token": s(), "expires_at": time()}), &["token"]),
            )
            .errors(&[429]),
        Op::new(
            "delete",
            "/api/v1/auth/token",
            "Revoke the token (or session) in use.",
        )
        .ok_as(204, None, json!({})),
        Op::new(
            "post",
            "/api/v1/auth/login",
            "Browser sign-in: sets the session cookie, answers the CSRF token.",
        )
        .auth(Auth::Public)
        .json(r("Credentials"))
        .ok(200, obj(json!({"csrf": s(), "expires_at": time()}), &[]))
        .errors(&[429]),
        Op::new(
            "post",
            "/api/v1/auth/password",
            "Change your password (signs out your other sessions).",
        )
        .json(obj(json!({"current": s(), "new": s()}), &["current", "new"]))
        .ok_as(204, None, s())
        .errors(&[422]),
        Op::new("get", "/api/v1/auth/me", "Who is signed in.").ok(
            200,
            obj(
                json!({"username": s(), "role": r("Role"), "area": s()}),
                &["username", "role", "area"],
            ),
        ),
        // areas and users
        Op::new(
            "get",
            "/api/v1/areas",
            "Areas (province, district, commune) in reach.",
        )
        .ok(200, list("Area")),
        Op::new(
            "post",
            "/api/v1/areas",
            "Add an area under another (admin).",
        )
        .json(obj(
            json!({"code": s(), "name": s(), "parent": s()}),
            &["code", "name", "parent"],
        ))
        .ok(201, obj(json!({"code": s()}), &[]))
        .errors(&[409]),
        Op::new(
            "patch",
            "/api/v1/areas/{code}",
            "Rename an area, move it under another area in reach and/or set its official code (admin).",
        )
        .json(obj(
            json!({"name": s(), "parent": s(),
                   "official_code": {"type": "string", "nullable": true, "description": "null clears it"}}),
            &[],
        ))
        .ok(200, r("Area"))
        .errors(&[404]),
        Op::new("get", "/api/v1/users", "Users in reach (admin).").ok(200, list("User")),
        Op::new(
            "post",
            "/api/v1/users/{username}/disable",
            "Disable a user (admin): no sign-in; their sessions and tokens end at once.",
        )
        .ok(
            200,
            obj(json!({"username": s(), "disabled": {"type": "boolean"}}), &[]),
        )
        .errors(&[404, 409]),
        Op::new(
            "post",
            "/api/v1/users/{username}/enable",
            "Enable a disabled user again (admin).",
        )
        .ok(
            200,
            obj(json!({"username": s(), "disabled": {"type": "boolean"}}), &[]),
        )
        .errors(&[404]),
        Op::new(
            "post",
            "/api/v1/users/{username}/password",
            "Set a new password for a user (admin); their sessions and tokens end.",
        )
        .json(obj(json!({"password": s()}), &["password"]))
        .ok_as(204, None, json!({}))
        .errors(&[404]),
        Op::new(
            "post",
            "/api/v1/users",
            "Add a user (admin); password at least 8 characters.",
        )
        .json(obj(
            json!({"username": s(), "password": s(), "role": r("Role"), "area": s()}),
            &["username", "password", "role", "area"],
        ))
        .ok(201, obj(json!({"username": s()}), &[]))
        .errors(&[409]),
        // media
        Op::new("get", "/api/v1/media", "The media library.").ok(200, list("Media")),
        Op::new(
            "post",
            "/api/v1/media",
            "Upload a bulletin (validated and measured; stored once per sha256).",
        )
        .body(
            "multipart/form-data",
            obj(
                json!({"file": {"type": "string", "format": "binary"}, "title": s()}),
                &["file"],
            ),
        )
        .ok(201, r("Media"))
        .errors(&[413]),
        Op::new(
            "get",
            "/api/v1/media/{sha256}",
            "The stored file (Range and ETag supported; device tokens too).",
        )
        .ok_as(
            200,
            Some("application/octet-stream"),
            json!({"type": "string", "format": "binary"}),
        )
        .errors(&[404, 416]),
        Op::new(
            "delete",
            "/api/v1/media/{sha256}",
            "Delete media no schedule or log refers to.",
        )
        .ok_as(204, None, json!({}))
        .errors(&[404, 409]),
        // schedules
        Op::new("get", "/api/v1/schedules", "Schedules in reach.")
            .query("station", s(), false, "only those targeting this station")
            .ok(200, list("Schedule")),
        Op::new(
            "post",
            "/api/v1/schedules",
            "Create a schedule (cron or one-off `at`).",
        )
        .json(r("ScheduleBody"))
        .ok(201, obj(json!({"id": s()}), &["id"])),
        Op::new(
            "get",
            "/api/v1/schedules/preview",
            "Next times a crontab(5) expression fires.",
        )
        .query("cron", s(), true, "five-field crontab(5) expression")
        .query("tz", s(), false, "IANA time zone, default Asia/Ho_Chi_Minh")
        .query("after", time(), false, "RFC 3339; default now")
        .query("count", int(), false, "how many times, default 10")
        .ok(
            200,
            obj(
                json!({"times": {"type": "array", "items": time()}}),
                &["times"],
            ),
        ),
        Op::new("get", "/api/v1/schedules/{id}", "One schedule.")
            .ok(200, r("Schedule"))
            .errors(&[404]),
        Op::new("put", "/api/v1/schedules/{id}", "Replace a schedule.")
            .json(r("ScheduleBody"))
            .ok(200, r("Schedule"))
            .errors(&[404]),
        Op::new("delete", "/api/v1/schedules/{id}", "Delete a schedule.")
            .ok_as(204, None, json!({}))
            .errors(&[404]),
        Op::new("post", "/api/v1/schedules/{id}/pause", "Pause a schedule.")
            .ok(200, r("Schedule"))
            .errors(&[404]),
        Op::new(
            "post",
            "/api/v1/schedules/{id}/resume",
            "Resume a paused schedule.",
        )
        .ok(200, r("Schedule"))
        .errors(&[404]),
        // programmes
        Op::new("get", "/api/v1/programmes", "Programmes in reach (made in your subtree or above it).")
            .ok(200, list("Programme")),
        Op::new(
            "post",
            "/api/v1/programmes",
            "Create a programme: ordered parts (media, or the station's jingle slot).",
        )
        .json(r("ProgrammeBody"))
        .ok(201, r("Programme"))
        .errors(&[422]),
        Op::new("get", "/api/v1/programmes/{id}", "One programme, with its length against the slot limit.")
            .ok(200, r("Programme"))
            .errors(&[404]),
        Op::new(
            "put",
            "/api/v1/programmes/{id}",
            "Replace a programme's title, category and parts (airings to come follow).",
        )
        .json(r("ProgrammeBody"))
        .ok(200, r("Programme"))
        .errors(&[404, 422]),
        Op::new("delete", "/api/v1/programmes/{id}", "Delete a programme no schedule airs.")
            .ok_as(204, None, json!({}))
            .errors(&[404, 409]),
        Op::new(
            "put",
            "/api/v1/stations/{code}/jingle",
            "Set the station's own jingle (fills programmes' jingle slot); null clears it.",
        )
        .json(obj(json!({"media_id": {"type": "string", "nullable": true}}), &["media_id"]))
        .ok(200, obj(json!({"code": s(), "jingle": {"type": "string", "nullable": true}}), &["code"]))
        .errors(&[404, 422]),
        Op::new(
            "put",
            "/api/v1/areas/{code}/slot-limit",
            "Set the longest programme an area's slots take, in minutes (admin); null inherits.",
        )
        .json(obj(json!({"minutes": {"type": "integer", "nullable": true}}), &["minutes"]))
        .ok(
            200,
            obj(
                json!({"code": s(), "minutes": {"type": "integer", "nullable": true},
                    "effective_minutes": {"type": "integer", "nullable": true}}),
                &["code"],
            ),
        )
        .errors(&[404, 422]),
        // approval
        Op::new(
            "put",
            "/api/v1/areas/{code}/approval",
            "Require approval (or not) for what operators make in an area and below (admin).",
        )
        .json(obj(json!({"required": {"type": "boolean"}}), &["required"]))
        .ok(
            200,
            obj(
                json!({"code": s(), "required": {"type": "boolean"}, "effective": {"type": "boolean"}}),
                &["code", "required"],
            ),
        )
        .errors(&[404]),
        Op::new(
            "get",
            "/api/v1/approvals",
            "Drafts waiting for approval and urgent notices waiting for review, in your subtree.",
        )
        .ok(200, list("Pending")),
        Op::new(
            "get",
            "/api/v1/approvals/{kind}/{id}",
            "An item's approval state and history (kind: schedule, programme, media, urgent).",
        )
        .ok(200, r("Approval"))
        .errors(&[404]),
        Op::new(
            "post",
            "/api/v1/approvals/{kind}/{id}/approve",
            "Approve a draft (an urgent notice: mark it reviewed); approver or admin over its area.",
        )
        .json(obj(json!({"comment": s()}), &[]))
        .ok(200, r("Approval"))
        .errors(&[404, 409, 422]),
        Op::new(
            "post",
            "/api/v1/approvals/{kind}/{id}/reject",
            "Reject a draft with a comment; editing it submits it again.",
        )
        .json(obj(json!({"comment": s()}), &["comment"]))
        .ok(200, r("Approval"))
        .errors(&[404, 409, 422]),
        // stations
        Op::new(
            "get",
            "/api/v1/stations",
            "Stations in reach with online state and what plays.",
        )
        .ok(200, list("Station")),
        Op::new(
            "post",
            "/api/v1/stations",
            "Add a station (admin); answers its device token once.",
        )
        .json(obj(
            json!({"code": s(), "name": s(), "area": s(), "timezone": s()}),
            &["code", "name", "area"],
        ))
        .ok(201, obj(json!({"code": s(), "device_token": s()}), &[]))
        .errors(&[409]),
        Op::new("get", "/api/v1/stations/{code}", "One station.")
            .ok(200, r("Station"))
            .errors(&[404]),
        Op::new(
            "patch",
            "/api/v1/stations/{code}",
            "Set (or clear, with null) a station's location (admin).",
        )
        .json(obj(
            json!({"location": {"allOf": [r("Location")], "nullable": true}}),
            &["location"],
        ))
        .ok(200, r("Station"))
        .errors(&[404]),
        Op::new(
            "get",
            "/api/v1/stations/{code}/plan",
            "What the station will play, with interruptions and skips.",
        )
        .query("from", time(), false, "RFC 3339; default now")
        .query(
            "to",
            time(),
            false,
            "RFC 3339; default one day after `from`",
        )
        .ok(200, list("PlanEntry"))
        .errors(&[404]),
        Op::new(
            "post",
            "/api/v1/stations/{code}/token",
            "Rotate the station's device token (admin); answers the new one once.",
        )
        .ok(200, obj(json!({"station": s(), "token": s()}), &["station", "token"]))
        .errors(&[404]),
        // live channels (relays)
        Op::new(
            "get",
            "/api/v1/channels",
            "Live channels in reach (registered in your area, above or below it).",
        )
        .ok(200, list("Channel")),
        Op::new(
            "post",
            "/api/v1/channels",
            "Register a live channel (admin): an HTTP/Icecast stream of MP3, AAC or Ogg.",
        )
        .json(obj(
            json!({"name": s(), "url": {"type": "string", "description": "http:// or https://"},
                "gain_db": {"type": "number", "minimum": -30, "maximum": 20},
                "measure": {"type": "boolean", "description": "set the gain from a sample of the stream (as POST /channels/{id}/measure) instead of gain_db"},
                "seconds": {"type": "integer", "minimum": 5, "maximum": 60, "description": "seconds sampled when measuring; default 20"}}),
            &["name", "url"],
        ))
        .ok(201, r("Channel"))
        .errors(&[409, 502]),
        Op::new(
            "post",
            "/api/v1/channels/{id}/measure",
            "Measure the channel's loudness (EBU R128) from a sample of its stream and set its gain to bring it to the bulletins' target (admin of its area). 502 when the stream cannot be had (stream_unreachable, stream_refused, stream_failed, stream_ended), 422 when it is not audio (not_audio) or silent (silent); the channel is then left as it was.",
        )
        .json(obj(
            json!({"seconds": {"type": "integer", "minimum": 5, "maximum": 60, "description": "seconds sampled; default 20 (the body may be empty)"}}),
            &[],
        ))
        .ok(200, r("Channel"))
        .errors(&[404, 502]),
        Op::new(
            "patch",
            "/api/v1/channels/{id}",
            "Change a channel (admin of its area): its name, its address (which drops the last measurement) or its gain.",
        )
        .json(obj(
            json!({"name": s(), "url": {"type": "string", "description": "http:// or https://"},
                "gain_db": {"type": "number", "minimum": -30, "maximum": 20}}),
            &[],
        ))
        .ok(200, r("Channel"))
        .errors(&[404, 409]),
        Op::new(
            "delete",
            "/api/v1/channels/{id}",
            "Delete a channel no schedule relays (admin of its area).",
        )
        .ok_as(204, None, json!({}))
        .errors(&[404, 409]),
        // remote control
        Op::new(
            "post",
            "/api/v1/stations/{code}/commands",
            "Remote command (operator): stop what airs, set the master volume, re-sync now.",
        )
        .json(obj(
            json!({"kind": {"type": "string", "enum": ["stop", "volume", "resync"]},
                "volume": {"type": "integer", "minimum": 0, "maximum": 100, "description": "percent; volume only"}}),
            &["kind"],
        ))
        .ok(202, obj(json!({"id": s()}), &["id"]))
        .errors(&[404]),
        Op::new(
            "get",
            "/api/v1/stations/{code}/commands/{id}",
            "A remote command and the station's acknowledgement.",
        )
        .ok(200, r("Command"))
        .errors(&[404]),
        Op::new(
            "get",
            "/api/v1/stations/{code}/volume-schedule",
            "The station's volume schedule (local times).",
        )
        .ok(200, list("VolumeStep"))
        .errors(&[404]),
        Op::new(
            "put",
            "/api/v1/stations/{code}/volume-schedule",
            "Replace the station's volume schedule (operator); [] removes it.",
        )
        .json(list("VolumeStep"))
        .ok(200, list("VolumeStep"))
        .errors(&[404]),
        // urgent notices
        Op::new("get", "/api/v1/urgent", "Urgent notices in reach.").ok(200, list("Urgent")),
        Op::new(
            "post",
            "/api/v1/urgent",
            "Push an urgent notice: interrupts whatever plays on the stations.",
        )
        .json(obj(
            json!({"title": s(), "media_id": s(),
                "stations": {"type": "array", "items": s(), "description": "codes, or [\"*\"]"},
                "text": {"type": "string", "description": "spoken in Vietnamese (espeak-ng) when there is no media_id"},
                "chime": {"type": "boolean", "description": "a two-tone chime before the notice"},
                "areas": {"type": "array", "items": s()}, "repeat": int(),
                "interval_minutes": int(), "until": time(), "expires_at": time(),
                "category": s()}),
            &["title"],
        ))
        .ok(201, obj(json!({"id": s()}), &["id"])),
        Op::new(
            "post",
            "/api/v1/cap",
            "Take in an OASIS CAP 1.2 alert (Alert, Update, Cancel) as an urgent notice.",
        )
        .body("application/cap+xml", s())
        .ok(201, obj(json!({"id": s()}), &["id"]))
        .errors(&[413]),
        Op::new("get", "/api/v1/cap/sources", "CAP sources owned in reach (admin).")
            .ok(200, list("CapSource")),
        Op::new(
            "post",
            "/api/v1/cap/sources",
            "Register a CAP source the server polls (admin): an Atom/RSS index or a single CAP document.",
        )
        .json(obj(
            json!({"name": s(), "url": s(),
                "senders": {"type": "array", "items": s(), "description": "the CAP senders it may speak for"},
                "area": {"type": "string", "description": "whose stations its alerts may reach; default the admin's area"},
                "poll_seconds": {"type": "integer", "minimum": 10, "maximum": 86400},
                "policy": r("CapPolicy"),
                "signing_key": {"type": "string", "description": "PEM public key or certificate; its messages must carry an enveloped XML signature made with it"}}),
            &["name", "url", "senders"],
        ))
        .ok(201, r("CapSource"))
        .errors(&[409]),
        Op::new("get", "/api/v1/cap/sources/{id}", "One CAP source (admin).")
            .ok(200, r("CapSource"))
            .errors(&[404]),
        Op::new(
            "delete",
            "/api/v1/cap/sources/{id}",
            "Stop polling a CAP source and forget its messages (admin; the audit log keeps them).",
        )
        .ok_as(204, None, json!({}))
        .errors(&[404]),
        Op::new(
            "post",
            "/api/v1/cap/sources/{id}/poll",
            "Poll a CAP source now (admin); answers what the poll did.",
        )
        .ok(
            200,
            obj(
                json!({"source": s(), "error": {"type": "string", "nullable": true},
                       "messages": {"type": "array", "items": {"type": "array", "items": s()}},
                       "next_poll_at": time()}),
                &["source", "messages", "next_poll_at"],
            ),
        )
        .errors(&[404]),
        Op::new(
            "get",
            "/api/v1/cap/messages",
            "Messages fetched from the CAP sources in reach, newest first: what each matched and what became of it.",
        )
        .query("limit", int(), false, "default 100, at most 1000")
        .ok(200, list("CapMessage")),
        Op::new(
            "get",
            "/api/v1/urgent/{id}",
            "An urgent notice with its delivery state per station.",
        )
        .ok(200, r("Urgent"))
        .errors(&[404]),
        Op::new(
            "post",
            "/api/v1/urgent/{id}/cancel",
            "Cancel an urgent notice.",
        )
        .ok(200, r("Urgent"))
        .errors(&[404, 409]),
        // logs, reports, audit
        Op::new("get", "/api/v1/logs", "The as-run log.")
            .query("station", s(), false, "station code")
            .query("area", s(), false, "area code (its subtree)")
            .query("category", s(), false, "category")
            .query(
                "status",
                s(),
                false,
                "played, interrupted, skipped, failed, missed",
            )
            .query("from", time(), false, "RFC 3339")
            .query("to", time(), false, "RFC 3339")
            .query("limit", int(), false, "at most 10000")
            .query("offset", int(), false, "skip this many")
            .ok(200, list("LogRow")),
        Op::new(
            "get",
            "/api/v1/reports/airtime.csv",
            "Airtime per station and category, CSV; every station of the area, a last column `awaiting` (due, no log yet).",
        )
        .query("from", time(), false, "RFC 3339")
        .query("to", time(), false, "RFC 3339")
        .ok_as(200, Some("text/csv"), s()),
        Op::new(
            "get",
            "/api/v1/reports/airtime",
            "Airtime report: per station and category, per station (every station of the area; `awaiting`: due occurrences without a log yet, `awaiting_since`), per category, per day.",
        )
        .query("from", time(), false, "RFC 3339")
        .query("to", time(), false, "RFC 3339")
        .query("area", s(), false, "an area code in reach")
        .ok(200, obj(json!({}), &[])),
        Op::new(
            "get",
            "/api/v1/reports/airtime.xlsx",
            "The airtime report as an XLSX workbook.",
        )
        .query("from", time(), false, "RFC 3339")
        .query("to", time(), false, "RFC 3339")
        .query("area", s(), false, "an area code in reach")
        .ok_as(
            200,
            Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            s(),
        ),
        Op::new(
            "get",
            "/api/v1/reports/charts/{chart}",
            "A report chart as SVG: aired-by-station.svg, compliance-by-day.svg, share-by-category.svg.",
        )
        .query("from", time(), false, "RFC 3339")
        .query("to", time(), false, "RFC 3339")
        .query("area", s(), false, "an area code in reach")
        .ok_as(200, Some("image/svg+xml"), s()),
        Op::new(
            "post",
            "/api/v1/reports/reconcile",
            "Mark occurrences with no log entry as missed now (admin).",
        )
        .ok(200, obj(json!({}), &[])),
        Op::new("get", "/api/v1/audit", "The audit log (admin), newest first.")
            .query("user", s(), false, "made by this username")
            .query("action", s(), false, "actions starting with this, e.g. station")
            .query("from", time(), false, "RFC 3339, inclusive")
            .query("to", time(), false, "RFC 3339, exclusive")
            .query("limit", int(), false, "default 200")
            .query("offset", int(), false, "skip this many")
            .ok(200, list("AuditEntry")),
        // device
        Op::new(
            "get",
            "/api/v1/device/schedule",
            "The station's schedule document; ETag, 304 on If-None-Match.",
        )
        .auth(Auth::Device)
        .ok(200, r("ScheduleDocument"))
        .errors(&[304]),
        Op::new(
            "get",
            "/api/v1/device/events",
            "Server-sent events: `schedule`, `urgent`, `cancel`, `command`; Last-Event-ID.",
        )
        .auth(Auth::Device)
        .ok_as(200, Some("text/event-stream"), s()),
        Op::new(
            "post",
            "/api/v1/device/logs",
            "Upload log entries, idempotent by entry id (at most 500).",
        )
        .auth(Auth::Device)
        .json(obj(
            json!({"entries": {"type": "array", "items": r("LogEntry")}}),
            &["entries"],
        ))
        .ok(
            200,
            obj(
                json!({"accepted": {"type": "array", "items": s()}}),
                &["accepted"],
            ),
        ),
        Op::new(
            "post",
            "/api/v1/device/heartbeat",
            "Heartbeat: version, now playing, cache, clock offset.",
        )
        .auth(Auth::Device)
        .json(r("Heartbeat"))
        .ok_as(204, None, json!({})),
        Op::new(
            "post",
            "/api/v1/device/urgent/{id}/state",
            "Report an urgent notice's state at the station.",
        )
        .auth(Auth::Device)
        .json(obj(
            json!({"state": r("UrgentState"), "at": time(), "reason": s()}),
            &["state", "at"],
        ))
        .ok_as(204, None, json!({}))
        .errors(&[404]),
        Op::new(
            "post",
            "/api/v1/device/commands/{id}/ack",
            "Acknowledge a remote command (done or failed, with what it did).",
        )
        .auth(Auth::Device)
        .json(obj(
            json!({"state": {"type": "string", "enum": ["done", "failed"]}, "at": time(), "reason": s()}),
            &["state", "at"],
        ))
        .ok_as(204, None, json!({}))
        .errors(&[404]),
    ];
    ops.extend(live_operations());
    ops.sort_by(|a, b| (a.path, a.method).cmp(&(b.path, b.method)));
    ops
}

/// Shared schemas (`#/components/schemas`).
pub fn schemas() -> Value {
    let priority = json!({"type": "string", "enum": ["normal", "priority", "emergency"]});
    let mut all = json!({
        "Error": obj(json!({"error": obj(json!({
            "code": {"type": "string", "description": "stable, e.g. not_found, invalid, unauthorized"},
            "message": {"type": "string", "description": "what went wrong, for people"}}),
            &["code", "message"])}), &["error"]),
        "Credentials": obj(json!({"username": s(), "password": s()}), &["username", "password"]),
        "Role": {"type": "string", "enum": ["admin", "approver", "operator", "viewer"]},
        "Priority": priority,
        "Area": obj(json!({"code": s(), "name": s(), "parent": {"type": "string", "nullable": true},
            "official_code": {"type": "string", "nullable": true, "description": "official administrative code (CAP geocodes may name it)"}}), &["code", "name"]),
        "Location": obj(json!({"lat": {"type": "number", "minimum": -90, "maximum": 90},
            "lon": {"type": "number", "minimum": -180, "maximum": 180}}), &["lat", "lon"]),
        "User": obj(json!({"username": s(), "role": r("Role"), "area": s(), "disabled": {"type": "boolean"}}), &["username", "role", "area", "disabled"]),
        "Media": obj(json!({"id": s(), "sha256": s(), "title": s(), "size_bytes": int(),
            "duration_ms": int(), "codec": s(), "sample_rate": int(), "channels": int(),
            "loudness_lufs": {"type": "number"}}), &["id", "sha256", "duration_ms"]),
        "Channel": obj(json!({"id": s(), "name": s(), "url": s(), "gain_db": {"type": "number"},
            "owner_area": s(), "created_by": s(), "created_at": time(),
            "loudness_lufs": {"type": "number", "nullable": true, "description": "integrated loudness of the last sample measured"},
            "measured_at": {"type": "string", "format": "date-time", "nullable": true}}),
            &["id", "name", "url"]),
        "Pending": obj(json!({"kind": s(), "id": s(), "title": s(), "area": s(),
            "state": {"type": "string", "enum": ["draft", "review"]}, "created_by": s(),
            "submitted_at": {"type": "string", "nullable": true, "format": "date-time"}}),
            &["kind", "id", "state"]),
        "Approval": obj(json!({"kind": s(), "id": s(), "area": s(),
            "state": {"type": "string", "enum": ["draft", "approved", "rejected", "review", "reviewed"]},
            "history": {"type": "array", "items": obj(json!({"action": s(), "by": s(), "at": time(),
                "comment": s()}), &["action", "by", "at"])}}), &["kind", "id", "state"]),
        "ProgrammeBody": obj(json!({"title": s(), "category": s(),
            "parts": {"type": "array", "items": obj(json!({"media_id": s(),
                "jingle": {"type": "boolean", "description": "the station's own jingle"},
                "title": s()}), &[])}}), &["title", "parts"]),
        "Programme": obj(json!({"id": s(), "title": s(), "category": s(),
            "parts": {"type": "array", "items": obj(json!({"media_id": {"type": "string", "nullable": true},
                "jingle": {"type": "boolean"}, "title": s(), "duration_ms": int()}), &["title"])},
            "total_ms": int(), "limit_minutes": {"type": "integer", "nullable": true},
            "over_limit": {"type": "boolean"}, "warning_vi": {"type": "string", "nullable": true},
            "warning_en": {"type": "string", "nullable": true},
            "schedules": {"type": "array", "items": s()}}), &["id", "title", "parts", "total_ms"]),
        "ScheduleBody": obj(json!({"title": s(), "media_id": s(),
            "programme_id": {"type": "string", "description": "instead of media_id: air a programme"},
            "channel_id": {"type": "string", "description": "instead of media_id: relay this live channel"},
            "duration_seconds": {"type": "integer", "minimum": 1, "maximum": 86400, "description": "a relay's window"},
            "stations": {"type": "array", "items": s(), "description": "codes, or [\"*\"]"},
            "areas": {"type": "array", "items": s()},
            "cron": {"type": "string", "description": "crontab(5), five fields, station time"},
            "at": time(), "starts_on": {"type": "string", "format": "date"},
            "ends_on": {"type": "string", "format": "date"},
            "excluded_dates": {"type": "array", "items": {"type": "string", "format": "date"}},
            "priority": {"type": "string", "enum": ["normal", "priority"]},
            "category": s(), "max_wait_minutes": int()}), &["title"]),
        "Schedule": obj(json!({"id": s(), "title": s(), "media_id": {"type": "string", "nullable": true},
            "channel_id": {"type": "string", "nullable": true},
            "duration_seconds": {"type": "integer", "nullable": true},
            "programme_id": {"type": "string", "nullable": true},
            "stations": {"type": "array", "items": s()}, "areas": {"type": "array", "items": s()},
            "cron": {"type": "string", "nullable": true}, "at": {"type": "string", "nullable": true, "format": "date-time"},
            "priority": r("Priority"), "category": s(), "paused": {"type": "boolean"}}), &["id", "title"]),
        "Station": obj(json!({"code": s(), "name": s(), "area": s(), "timezone": s(),
            "location": {"allOf": [r("Location")], "nullable": true},
            "online": {"type": "boolean"}, "connected": {"type": "boolean"},
            "last_seen": {"type": "string", "nullable": true, "format": "date-time"},
            "now_playing": {"type": "object", "nullable": true}, "next": {"type": "object", "nullable": true},
            "schedule_version": s(),
            "volume": {"type": "integer", "nullable": true, "description": "master volume the controller reported, percent"},
            "last_command": {"allOf": [r("Command")], "nullable": true}}), &["code", "name", "area", "online"]),
        "Command": obj(json!({"id": s(), "kind": {"type": "string", "enum": ["stop", "volume", "resync"]},
            "volume": {"type": "integer", "nullable": true}, "issued_by": s(), "issued_at": time(),
            "state": {"type": "string", "enum": ["pending", "done", "failed"]},
            "reason": {"type": "string", "nullable": true},
            "acked_at": {"type": "string", "nullable": true, "format": "date-time"}}),
            &["id", "kind", "issued_by", "issued_at", "state"]),
        "VolumeStep": obj(json!({"from": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$", "description": "local time HH:MM"},
            "volume": {"type": "integer", "minimum": 0, "maximum": 100}}), &["from", "volume"]),
        "PlanEntry": obj(json!({"starts_at": time(), "ends_at": {"type": "string", "nullable": true, "format": "date-time"},
            "scheduled_at": time(), "title": s(), "priority": r("Priority"), "category": s(),
            "media_id": s()}), &["starts_at", "title", "priority"]),
        "UrgentState": {"type": "string", "enum": ["pending", "received", "playing", "played", "failed", "cancelled"]},
        "Urgent": obj(json!({"id": s(), "title": s(),
            "stations": {"type": "array", "items": obj(json!({"code": s(), "state": r("UrgentState")}), &["code", "state"])}}),
            &["id"]),
        "LogRow": obj(json!({"id": s(), "station": s(), "title": s(), "scheduled_at": time(),
            "started_at": {"type": "string", "nullable": true, "format": "date-time"},
            "ended_at": {"type": "string", "nullable": true, "format": "date-time"},
            "status": {"type": "string", "enum": ["played", "interrupted", "skipped", "failed", "missed"]},
            "played_ms": int(),
            "gaps": {"type": "array", "description": "a relay's stretches without the channel",
                "items": obj(json!({"from": time(), "to": time(), "reason": s()}), &["from", "to", "reason"])}}),
            &["id", "station", "status"]),
        "AuditEntry": obj(json!({"id": {"type": "integer"}, "at": time(), "user": s(), "area": s(),
            "action": s(), "target": s(), "detail": {}}), &["id", "at", "user", "action"]),
        "ScheduleDocument": obj(json!({"version": s(), "station": {}, "rules": {"type": "array"},
            "media": {"type": "array"}, "urgent": {"type": "array"}}), &["version"]),
        "LogEntry": obj(json!({"id": s(), "title": s(), "scheduled_at": time(),
            "status": s(), "played_ms": int()}), &["id"]),
        "Heartbeat": obj(json!({"version": s(), "sent_at": time(), "now_playing": {},
            "cache_ready": {"type": "boolean"}, "clock_offset_ms": {"type": "integer"}}), &["version"]),
    });
    // CAP sources, in a map of their own (one json! holding every schema reaches the macro
    // recursion limit).
    let cap = json!({
        "CapPolicy": obj(json!({
            "air_severities": {"type": "array", "items": s(), "description": "default Extreme, Severe"},
            "air_urgencies": {"type": "array", "items": s(), "description": "default Immediate, Expected"},
            "statuses": {"type": "array", "items": s(), "description": "Exercise, Test, Draft that may air; default none"},
            "others": {"type": "string", "enum": ["hold", "record"], "description": "what alerts that do not air at once do; default hold (approval queue until they expire)"}}), &[]),
        "CapSource": obj(json!({"id": s(), "name": s(), "url": s(),
            "senders": {"type": "array", "items": s()}, "area": s(), "poll_seconds": int(),
            "policy": r("CapPolicy"), "created_by": s(), "created_at": time(), "next_poll_at": time(),
            "last_polled_at": {"type": "string", "nullable": true, "format": "date-time"},
            "last_ok_at": {"type": "string", "nullable": true, "format": "date-time"},
            "last_error": {"type": "string", "nullable": true}, "failures": int(),
            "signing_key": {"type": "string", "nullable": true}}),
            &["id", "name", "url", "senders", "area", "poll_seconds", "policy"]),
        "CapMessage": obj(json!({"id": s(), "source_id": s(), "entry": s(), "link": s(),
            "fetched_at": time(), "cap_key": {"type": "string", "nullable": true}, "title": s(),
            "owner_area": s(), "created_by": s(),
            "outcome": {"type": "string", "enum": ["aired", "cancelled", "held", "recorded", "unreached", "refused", "duplicate", "rejected"]},
            "detail": {"type": "object"},
            "deadline": {"type": "string", "nullable": true, "format": "date-time"},
            "approval": {"type": "string", "nullable": true},
            "urgent_id": {"type": "string", "nullable": true}}),
            &["id", "source_id", "entry", "outcome"]),
    });
    if let (Some(all), Value::Object(cap)) = (all.as_object_mut(), cap) {
        all.extend(cap);
    }
    if let (Some(all), Value::Object(live)) = (all.as_object_mut(), live_schemas()) {
        all.extend(live);
    }
    all
}

// ------------------------------------------------------------------ live broadcasts (#25)
// A block of its own (operations and schemas), to move as one.

fn live_operations() -> Vec<Op> {
    vec![
        Op::new("get", "/api/v1/live", "Live sessions in reach, newest first (the last 100).")
            .ok(200, list("Live")),
        Op::new(
            "post",
            "/api/v1/live",
            "Open a live broadcast (operator; the targets' rules are urgent notices'): the stations connect at once; the audio comes over the `ingest` WebSocket.",
        )
        .json(r("LiveBody"))
        .ok(201, obj(json!({"id": s(), "ingest": {"type": "string", "description": "the WebSocket path"}}), &["id", "ingest"])),
        Op::new(
            "get",
            "/api/v1/live/{id}",
            "A live session: its state, each station's state, seconds aired, the recording.",
        )
        .ok(200, r("Live"))
        .errors(&[404]),
        Op::new(
            "post",
            "/api/v1/live/{id}/stop",
            "End a live session (its recording goes into the library).",
        )
        .ok(200, r("Live"))
        .errors(&[404, 409]),
        Op::new(
            "get",
            "/api/v1/live/{id}/ingest",
            "WebSocket (Upgrade: websocket) of the person who opened the session: binary messages of audio in the session's format (at most 64 KiB each, in real time); text {\"type\":\"stop\"} or closing ends it. The server sends {\"type\":\"state\"} twice a second, {\"type\":\"error\"} before closing on bad input, {\"type\":\"ended\"} at the end. With the session cookie, Origin must be this server.",
        )
        .ok_as(101, None, json!({}))
        .errors(&[400, 404, 409]),
        Op::new(
            "get",
            "/api/v1/device/live/{id}/stream",
            "A live session's frames for the station (u32 big-endian length, then kind 1 audio: seq, timestamp µs, span µs, IMA ADPCM state and 14 kHz samples; 2 end: JSON; 3 keep-alive, every second).",
        )
        .auth(Auth::Device)
        .ok_as(200, Some("application/octet-stream"), s())
        .errors(&[404]),
        Op::new(
            "post",
            "/api/v1/device/live/{id}/state",
            "Report the station's state in a live session.",
        )
        .auth(Auth::Device)
        .json(obj(
            json!({"state": {"type": "string", "enum": ["waiting", "airing", "behind", "ended"]},
                   "behind_ms": int(), "played_ms": int(), "gaps": int()}),
            &["state"],
        ))
        .ok_as(204, None, json!({}))
        .errors(&[404]),
    ]
}

fn live_schemas() -> Value {
    json!({
        "LiveBody": obj(json!({"title": s(),
            "stations": {"type": "array", "items": s(), "description": "codes, or [\"*\"]"},
            "areas": {"type": "array", "items": s()},
            "priority": {"type": "string", "enum": ["priority", "emergency"]},
            "format": obj(json!({"codec": {"type": "string", "enum": ["pcm_s16le"]},
                "sample_rate": {"type": "integer", "minimum": 8000, "maximum": 48000},
                "channels": {"type": "integer", "minimum": 1, "maximum": 2}}),
                &["codec", "sample_rate", "channels"])}),
            &["title", "priority"]),
        "Live": obj(json!({"id": s(), "title": s(),
            "priority": {"type": "string", "enum": ["priority", "emergency"]},
            "state": {"type": "string", "enum": ["open", "live", "ended"]},
            "created_at": time(), "created_by": s(),
            "started_at": {"type": "string", "nullable": true, "format": "date-time"},
            "ended_at": {"type": "string", "nullable": true, "format": "date-time"},
            "end_reason": {"type": "string", "nullable": true},
            "aired_s": {"type": "number"},
            "archive": {"type": "string", "nullable": true, "description": "the recording's sha256 in the library"},
            "format": {"type": "object"}, "ingest": s(),
            "stations": {"type": "array", "items": obj(json!({"code": s(),
                "state": {"type": "string", "enum": ["connecting", "connected", "waiting", "airing", "behind", "lost", "ended"]},
                "behind_ms": int(), "played_ms": int(), "gaps": int(), "updated_at": time()}),
                &["code", "state"])}}),
            &["id", "title", "priority", "state", "stations"]),
    })
}
