#!/usr/bin/env python3
"""Writes server/openapi.json: the OpenAPI 3.1 document of the operations keyshift-server serves.

The schemas mirror core/src/wire/ (field names and limits of Unkey's v2 reference). Run from
the repository root after changing the wire models:  python3 server/tools/gen_openapi.py
The test `openapi_document_lists_exactly_the_served_operations` checks that every operation of
wire::OPERATIONS has a path here and vice versa.
"""
import json
import os

S = lambda **kw: dict(type="string", **kw)
I = lambda **kw: dict(type="integer", format="int64", **kw)
B = lambda **kw: dict(type="boolean", **kw)
A = lambda items, **kw: dict(type="array", items=items, **kw)
R = lambda name: {"$ref": f"#/components/schemas/{name}"}


def obj(props, required=(), strict=True, **kw):
    o = dict(type="object", properties=props, **kw)
    if required:
        o["required"] = list(required)
    if strict:
        o["additionalProperties"] = False
    return o


ID = S(minLength=3, maxLength=255, pattern="^[a-zA-Z0-9_]+$")
API_ID = S(minLength=8, maxLength=255, pattern="^[a-zA-Z0-9_]+$")
META = dict(type="object", additionalProperties=True, maxProperties=100,
            description="Free-form JSON metadata (at most 100 properties).")
SLUGS = A(S(minLength=1, maxLength=128, pattern="^[a-zA-Z0-9_:\\-.*]+$"), maxItems=1000)
ROLES = A(S(minLength=1, maxLength=128), maxItems=100)
EXPIRES = I(maximum=4102444800000, description="Unix milliseconds when the key expires.")
LIST_LIMIT = dict(type="integer", minimum=1, maximum=100, default=100)
CURSOR = S(maxLength=1024)

schemas = {
    "Meta": obj({"requestId": S(example="req_2c9a0jf23l4k567")}, ["requestId"]),
    "Pagination": obj({"cursor": S(), "hasMore": B()}, ["hasMore"]),
    "ValidationError": obj({"location": S(example="body.byteLength"), "message": S(),
                            "fix": S()}, ["location", "message"]),
    "Problem": obj({
        "title": S(example="Not Found"),
        "detail": S(),
        "status": dict(type="integer"),
        "type": S(format="uri",
                  example="https://unkey.com/docs/errors/unkey/data/key_not_found"),
        "errors": A(R("ValidationError"), description="Every bad field (always present on 400)."),
    }, ["title", "detail", "status", "type"]),
    "ErrorEnvelope": obj({"meta": R("Meta"), "error": R("Problem")}, ["meta", "error"]),
    "EmptyData": obj({}),
    "KeyCreditsRefill": obj({
        "interval": S(enum=["daily", "monthly"]),
        "amount": I(minimum=1),
        "refillDay": dict(type="integer", minimum=1, maximum=31),
    }, ["interval", "amount"]),
    "KeyCredits": obj({
        "remaining": dict(type=["integer", "null"], minimum=0,
                          description="null = unlimited"),
        "refill": R("KeyCreditsRefill"),
    }, ["remaining"]),
    "RatelimitRequest": obj({
        "name": S(minLength=3, maxLength=128),
        "limit": I(minimum=1),
        "duration": I(minimum=1000, maximum=2592000000, description="Window in milliseconds."),
        "autoApply": B(default=False),
    }, ["name", "limit", "duration", "autoApply"]),
    "RatelimitResponse": obj({
        "id": S(), "name": S(), "limit": I(), "duration": I(), "autoApply": B(),
    }, ["id", "name", "limit", "duration"], strict=False),
    "Identity": obj({
        "id": S(), "externalId": S(), "meta": META, "ratelimits": A(R("RatelimitResponse")),
    }, ["id", "externalId"], strict=False),
    "Permission": obj({"id": S(), "name": S(), "slug": S(), "description": S()},
                      ["id", "name", "slug"], strict=False),
    "Role": obj({"id": S(), "name": S(), "description": S(),
                 "permissions": A(R("Permission"))}, ["id", "name"], strict=False),
    "Key": obj({
        "keyId": S(), "start": S(), "enabled": B(), "name": S(), "meta": META,
        "createdAt": I(), "updatedAt": I(), "lastUsedAt": I(), "expires": I(),
        "permissions": A(S()), "roles": A(S()), "credits": R("KeyCredits"),
        "identity": R("Identity"), "ratelimits": A(R("RatelimitResponse")),
    }, ["keyId", "start", "enabled", "createdAt"], strict=False),
    "VerifyRatelimitData": obj({
        "exceeded": B(), "id": S(), "name": S(), "limit": I(), "duration": I(),
        "reset": I(description="Unix ms when the window resets."), "remaining": I(),
        "autoApply": B(),
    }, ["exceeded", "name", "limit", "duration", "reset", "remaining"], strict=False),
    "VerifyCode": S(enum=["VALID", "NOT_FOUND", "FORBIDDEN", "INSUFFICIENT_PERMISSIONS",
                          "USAGE_EXCEEDED", "RATE_LIMITED", "DISABLED", "EXPIRED"]),
    "MigratedKey": obj({"hash": S(), "keyId": S()}, ["hash", "keyId"]),
    "HashVariant": S(enum=["sha256_base64", "sha256_hex", "bcrypt"], default="sha256_base64"),
    "Portal": obj({
        "portalId": S(example="portal_3Zb9"), "apiId": S(),
        "name": S(description="Branding name shown to end users (defaults to the api's name)."),
        "grantableScopes": A(S(), description="Permission slugs an end user may put on a key "
                                              "they create."),
    }, ["portalId", "apiId", "name", "grantableScopes"], strict=False),
    "PortalScope": S(enum=["keys:read", "keys:create", "keys:update", "keys:reroll",
                           "keys:delete", "analytics:read"]),
    "VerificationBucket": obj({
        "time": I(description="Start of the bucket, Unix ms."), "total": I(), "valid": I(),
        "rateLimited": I(), "insufficientPermissions": I(), "forbidden": I(), "disabled": I(),
        "expired": I(), "usageExceeded": I(),
    }, ["time", "total", "valid", "rateLimited", "insufficientPermissions", "forbidden",
        "disabled", "expired", "usageExceeded"], strict=False),
}

key_fields = {
    "name": S(maxLength=255), "externalId": S(minLength=1, maxLength=255), "meta": META,
    "roles": ROLES, "permissions": SLUGS, "expires": EXPIRES, "credits": R("KeyCredits"),
    "ratelimits": A(R("RatelimitRequest"), maxItems=50), "enabled": B(default=True),
}


def key_links(summary, field, schema, item):
    """keys.add/remove/set of permissions or roles: `{keyId, <field>}` in, the key's items out."""
    return (summary, obj({"keyId": ID, field: schema}, ["keyId", field]), A(R(item)), False,
            [403, 404])


def list_op(summary, item):
    """A paged list of the workspace's items, searchable."""
    return (summary, obj({"cursor": CURSOR, "limit": LIST_LIMIT, "search": S(maxLength=256)}),
            A(R(item)), True, [403])


def nullable(s):
    s = dict(s)
    if "type" in s:
        s["type"] = [s["type"], "null"]
        return s
    return {"anyOf": [s, {"type": "null"}]}


# op -> (summary, request schema, response data schema, paginated, extra error statuses)
ops = {
    "apis.createApi": ("Create an API (a keyspace)",
                       obj({"name": S(minLength=3, maxLength=256)}, ["name"]),
                       obj({"apiId": S()}, ["apiId"]), False, [403, 409]),
    "apis.getApi": ("Get an API", obj({"apiId": API_ID}, ["apiId"]),
                    obj({"id": S(), "name": S()}, ["id", "name"]), False, [403, 404]),
    "apis.listKeys": ("List the keys of an API",
                      obj({"apiId": S(minLength=1), "limit": LIST_LIMIT, "cursor": S(),
                           "externalId": S(minLength=1), "decrypt": B(),
                           "revalidateKeysCache": B()}, ["apiId"]),
                      A(R("Key")), True, [403, 404, 412]),
    "apis.deleteApi": ("Delete an API and its keys", obj({"apiId": API_ID}, ["apiId"]),
                       R("EmptyData"), False, [403, 404]),
    "keys.createKey": ("Create a key (the plaintext is returned once)",
                       obj(dict({"apiId": ID,
                                 "prefix": S(minLength=1, maxLength=16, pattern="^[a-zA-Z0-9_]+$"),
                                 "byteLength": dict(type="integer", minimum=16, maximum=255,
                                                    default=16),
                                 "recoverable": B(default=False)}, **key_fields), ["apiId"]),
                       obj({"keyId": S(), "key": S(description="The plaintext key, shown once.")},
                           ["keyId", "key"]), False, [403, 404, 409, 412]),
    "keys.verifyKey": ("Verify a key (always 200 for a verification outcome)",
                       obj({"key": S(minLength=1, maxLength=512),
                            "tags": A(S(minLength=1, maxLength=512), maxItems=20),
                            "permissions": S(minLength=1, maxLength=1000,
                                             description="Permission query: `a`, `a AND b`, `(a OR b) AND c`."),
                            "credits": obj({"cost": I(minimum=0, maximum=1000000000000)}, ["cost"]),
                            "ratelimits": A(obj({"name": S(minLength=3, maxLength=255),
                                                 "cost": I(minimum=0), "limit": I(minimum=0),
                                                 "duration": I(minimum=0)}, ["name"])),
                            "migrationId": S(maxLength=256)}, ["key"]),
                       obj({"valid": B(), "code": R("VerifyCode"), "keyId": S(), "name": S(),
                            "meta": META, "expires": I(),
                            "credits": I(description="Remaining credits; absent = unlimited."),
                            "enabled": B(), "permissions": A(S()), "roles": A(S()),
                            "identity": R("Identity"),
                            "ratelimits": A(R("VerifyRatelimitData"))},
                           ["valid", "code"], strict=False), False, [403]),
    "keys.getKey": ("Get a key", obj({"keyId": ID, "decrypt": B()}, ["keyId"]), R("Key"),
                    False, [403, 404, 412]),
    "keys.updateKey": ("Update a key (absent = unchanged, null = cleared)",
                       obj({"keyId": ID, "name": nullable(S(maxLength=255)),
                            "externalId": nullable(S(minLength=1, maxLength=255)),
                            "meta": nullable(META), "expires": nullable(EXPIRES),
                            "credits": nullable(obj({
                                "remaining": dict(type=["integer", "null"], minimum=0),
                                "refill": nullable(R("KeyCreditsRefill"))})),
                            "ratelimits": A(R("RatelimitRequest"), maxItems=50),
                            "enabled": B(), "roles": ROLES, "permissions": SLUGS}, ["keyId"]),
                       R("EmptyData"), False, [403, 404]),
    "keys.deleteKey": ("Delete a key (soft by default; `permanent` removes it for good)",
                       obj({"keyId": ID, "permanent": B(default=False)}, ["keyId"]),
                       R("EmptyData"), False, [403, 404]),
    "keys.rerollKey": ("Issue a new key with the same settings; the old key expires after "
                       "`expiration` ms (0 = now)",
                       obj({"keyId": ID, "expiration": I(minimum=0)}, ["keyId", "expiration"]),
                       obj({"keyId": S(), "key": S()}, ["keyId", "key"]), False, [403, 404]),
    "keys.migrateKeys": ("Import keys by hash (200 even on partial success)",
                         obj({"migrationId": S(minLength=3, maxLength=255),
                              "apiId": S(minLength=3, maxLength=255),
                              "hashVariant": R("HashVariant"),
                              "keys": A(obj(dict({"hash": S(minLength=3)}, **key_fields,
                                                 start=S(minLength=1, maxLength=32, description=(
                                                     "keyshift extension: the key's clear leading part "
                                                     "(e.g. sk_live_ab12); required with bcrypt hashes, "
                                                     "by which verify finds them"))),
                                            ["hash"]), minItems=1)},
                             ["migrationId", "apiId", "keys"]),
                         obj({"migrated": A(R("MigratedKey")),
                              "failed": A({"anyOf": [S(), obj({"hash": S(), "error": S()},
                                                              ["hash"])]},
                                          description="Hashes that were not migrated (e.g. already present).")},
                             ["migrated", "failed"]), False, [403, 404]),
    "keys.addPermissions": key_links("Add permissions to a key (missing ones are created)",
                                     "permissions", SLUGS, "Permission"),
    "keys.removePermissions": key_links("Remove permissions from a key",
                                        "permissions", SLUGS, "Permission"),
    "keys.setPermissions": key_links("Replace the permissions of a key",
                                     "permissions", SLUGS, "Permission"),
    "keys.addRoles": key_links("Add roles to a key (roles must exist)", "roles", ROLES, "Role"),
    "keys.removeRoles": key_links("Remove roles from a key", "roles", ROLES, "Role"),
    "keys.setRoles": key_links("Replace the roles of a key", "roles", ROLES, "Role"),
    "keys.updateCredits": ("Set, increment or decrement the credits of a key",
                           obj({"keyId": S(minLength=3),
                                "operation": S(enum=["set", "increment", "decrement"]),
                                "value": dict(type=["integer", "null"], minimum=0,
                                              description="null with `set` = unlimited")},
                               ["keyId", "operation"]),
                           R("KeyCredits"), False, [403, 404]),
    "keys.whoami": ("Describe the key whose plaintext is given",
                    obj({"key": S(minLength=1, maxLength=512)}, ["key"]), R("Key"), False,
                    [403, 404]),
    "permissions.createPermission": ("Create a permission",
                                     obj({"name": S(minLength=1, maxLength=512),
                                          "slug": S(minLength=1, maxLength=128,
                                                    pattern="^[a-zA-Z0-9_:\\-.*]+$"),
                                          "description": S(maxLength=512)}, ["name", "slug"]),
                                     obj({"permissionId": S()}, ["permissionId"]), False,
                                     [403, 409]),
    "permissions.getPermission": ("Get a permission by id or slug",
                                  obj({"permission": S(minLength=1, maxLength=128,
                                                     pattern="^[a-zA-Z0-9_:\\-.*]+$")}, ["permission"]),
                                  R("Permission"), False, [403, 404]),
    "permissions.listPermissions": list_op("List permissions", "Permission"),
    "permissions.deletePermission": ("Delete a permission by id or slug",
                                     obj({"permission": S(minLength=1, maxLength=128,
                                                     pattern="^[a-zA-Z0-9_:\\-.*]+$")},
                                         ["permission"]), R("EmptyData"), False, [403, 404]),
    "permissions.createRole": ("Create a role",
                               obj({"name": S(minLength=1, maxLength=128),
                                    "description": S(maxLength=512),
                                    "permissions": SLUGS}, ["name"]),
                               obj({"roleId": S()}, ["roleId"]), False, [403, 409]),
    "permissions.getRole": ("Get a role by id or name",
                            obj({"role": S(minLength=1, maxLength=128)}, ["role"]),
                            R("Role"), False, [403, 404]),
    "permissions.listRoles": list_op("List roles", "Role"),
    "permissions.deleteRole": ("Delete a role by id or name",
                               obj({"role": S(minLength=1, maxLength=128)}, ["role"]),
                               R("EmptyData"), False, [403, 404]),
    "permissions.setRolePermissions": (
        "Replace the permissions assigned directly to a role (missing ones are created; "
        "slugs match case-insensitively)",
        obj({"roleId": S(minLength=3, maxLength=255, pattern="^[a-zA-Z0-9_-]+$",
                         description="The role's id."),
             "permissions": A(S(minLength=1, maxLength=128, pattern="^[a-zA-Z0-9_:\\-.*]+$"),
                              description="The complete set of slugs; [] clears.")},
            ["roleId", "permissions"]),
        A(R("Permission")), False, [403, 404]),
    "identities.createIdentity": ("Create an identity (the owner of keys)",
                                  obj({"externalId": S(minLength=1, maxLength=255), "meta": META,
                                       "ratelimits": A(R("RatelimitRequest"), maxItems=50)},
                                      ["externalId"]),
                                  obj({"identityId": S()}, ["identityId"]), False, [403, 409]),
    "identities.getIdentity": ("Get an identity by id or external id",
                               obj({"identity": S(minLength=1)}, ["identity"]),
                               R("Identity"), False, [403, 404]),
    "identities.listIdentities": list_op("List identities", "Identity"),
    "identities.deleteIdentity": ("Delete an identity by id or external id",
                                  obj({"identity": S(minLength=1)}, ["identity"]),
                                  R("EmptyData"), False, [403, 404]),
    "identities.updateIdentity": (
        "Update an identity: `meta` and `ratelimits`, when given, replace what it has "
        "(`{}` / `[]` clear them)",
        obj({"identity": S(minLength=1, description="An identity id or external id."),
             "meta": META, "ratelimits": A(R("RatelimitRequest"), maxItems=50)},
            ["identity"]),
        R("Identity"), False, [403, 404]),
}

ops["analytics.getVerifications"] = (
    "Run one read-only SQL SELECT over the verification log's views (key_verifications_v1, "
    "key_verifications_per_{minute,hour,day,month}_v1), scoped to the root key's workspace",
    obj({"query": S(minLength=1, maxLength=10000)}, ["query"]),
    A(dict(type="object", additionalProperties=True),
      description="One object per result row, keyed by column name."), False, [403, 422])

PORTAL_REF = S(minLength=1, description="A portal id (`portal_…`) or an api id (`api_…`) whose "
                                       "portal is created with defaults on first use.")

# Root-key portal operations (security: rootKey).
ops.update({
    "portal.createSession": (
        "Create a portal session for an end user; answers the URL to send them to (it carries "
        "a single-use exchange code valid 15 minutes). Each scope needs the matching root-key "
        "permission on the portal's api",
        obj({"portal": PORTAL_REF,
             "externalId": S(minLength=1, maxLength=256),
             "scopes": A(R("PortalScope"), minItems=1),
             "returnUrl": S(format="uri", maxLength=500),
             "preview": B(default=False)}, ["portal", "externalId", "scopes"]),
        obj({"id": S(example="ps_abc123"),
             "url": S(format="uri", example="https://keys.example.com/portal?code=pst_abc")},
            ["id", "url"]), False, [403, 404]),
    "portal.getPortal": ("Get a portal's configuration (created with defaults on first use)",
                         obj({"portal": PORTAL_REF}, ["portal"]), R("Portal"), False,
                         [403, 404]),
    "portal.updatePortal": ("Update a portal's branding name and grantable permissions",
                            obj({"portal": PORTAL_REF, "name": S(minLength=1, maxLength=200),
                                 "grantableScopes": SLUGS}, ["portal"]),
                            R("Portal"), False, [403, 404]),
    "portal.revokeSession": ("Revoke a portal session: its access token stops working at once",
                             obj({"sessionId": S(minLength=1)}, ["sessionId"]),
                             R("EmptyData"), False, [403, 404]),
})

# End-user portal routes: (summary, request, data, paginated, extra statuses, security).
EMPTY_REQ = obj({})
portal_ops = {
    "portal.exchangeCode": (
        "Exchange a session URL's code for the session's access token (also set as the "
        "HttpOnly session cookie). Unknown, used and expired codes are the same 401",
        obj({"code": S(minLength=1)}, ["code"]),
        obj({"accessToken": S(example="pat_xyz"), "expiresAt": I()},
            ["accessToken", "expiresAt"]), False, [], []),
    "portal.getSession": ("The session: end user, scopes, portal, expiry and CSRF token",
                          EMPTY_REQ,
                          obj({"sessionId": S(), "externalId": S(),
                               "scopes": A(R("PortalScope")), "portal": R("Portal"),
                               "expiresAt": I(), "csrfToken": S(), "returnUrl": S()},
                              ["sessionId", "externalId", "scopes", "portal", "expiresAt",
                               "csrfToken"], strict=False), False, [], None),
    "portal.listKeys": ("The end user's own keys in the portal's api (any keys:* scope)",
                        obj({"limit": LIST_LIMIT, "cursor": CURSOR}), A(R("Key")), True,
                        [403], None),
    "portal.createKey": ("Create a key for the end user (keys:create); permissions must be "
                         "grantable in the portal",
                         obj({"name": S(minLength=1, maxLength=200), "permissions": SLUGS,
                              "expires": EXPIRES}, ["name"]),
                         obj({"keyId": S(), "key": S(description="The plaintext, shown once.")},
                             ["keyId", "key"]), False, [403], None),
    "portal.updateKey": ("Rename one of the end user's keys (keys:update)",
                         obj({"keyId": S(minLength=1), "name": S(minLength=1, maxLength=200)},
                             ["keyId", "name"]), R("EmptyData"), False, [403, 404], None),
    "portal.rerollKey": ("Reroll one of the end user's keys (keys:reroll); the old key stays "
                         "valid `expiration` ms (0 = revoked now)",
                         obj({"keyId": ID, "expiration": I(minimum=0)}, ["keyId", "expiration"]),
                         obj({"keyId": S(), "key": S()}, ["keyId", "key"]), False, [403, 404],
                         None),
    "portal.deleteKey": ("Delete one of the end user's keys (keys:delete)",
                         obj({"keyId": S(minLength=1)}, ["keyId"]), R("EmptyData"), False,
                         [403, 404], None),
    "portal.getVerifications": (
        "The end user's verifications over time (analytics:read): buckets of a minute "
        "(window ≤ 2 h), an hour (≤ 7 d) or a day",
        obj({"startTime": I(minimum=0), "endTime": I(minimum=0), "keyId": S(minLength=1)},
            ["startTime", "endTime"]),
        A(R("VerificationBucket")), False, [403, 404], None),
    "portal.logout": ("End the session and clear its cookie", EMPTY_REQ, R("EmptyData"),
                      False, [403], None),
}

TITLES = {400: "Bad request: invalid body, unknown field, or missing/malformed Authorization header",
          401: "Unknown root key", 403: "The root key lacks the permission",
          404: "Not found", 409: "Conflict",
          422: "The query's result is too large or it ran too long",
          412: "Precondition failed: the request asks what this service cannot do (recoverable keys, decrypt)",
          413: "Request body larger than the limit (10 MiB)",
          429: "Rate limited (see Retry-After)", 500: "Internal error"}


def problem_response(status):
    return {"description": TITLES[status],
            "content": {"application/json": {"schema": R("ErrorEnvelope")}}}


paths = {}
for op, (summary, req, data, paginated, extra) in ops.items():
    group, name = op.split(".")
    env_props = {"meta": R("Meta"), "data": data}
    required = ["meta", "data"]
    if paginated:
        env_props["pagination"] = R("Pagination")
    responses = {"200": {"description": "Success",
                         "content": {"application/json": {"schema": obj(env_props, required,
                                                                         strict=False)}}}}
    for status in sorted({400, 401, 413, 429, 500, *extra}):
        responses[str(status)] = problem_response(status)
    op_obj = {
        "operationId": op,
        "summary": summary,
        "tags": [group],
        "security": [{"rootKey": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": req}}},
        "responses": responses,
    }
    if op in ("keys.createKey", "keys.rerollKey", "keys.migrateKeys"):
        op_obj["parameters"] = [{
            "name": "Idempotency-Key", "in": "header", "required": False,
            "schema": S(minLength=1, maxLength=255),
            "description": "keyshift extension: a repeated key within 24 h replays the first answer."}]
    paths[f"/v2/{op}"] = {"post": op_obj}

PORTAL_TITLES = {401: "No portal session, or an unknown, expired or revoked one (or a bad code)",
                 403: "The session lacks the scope, or the CSRF token / Origin check failed",
                 404: "Not found (another end user's key is not found either)"}
for op, (summary, req, data, paginated, extra, security) in portal_ops.items():
    env_props = {"meta": R("Meta"), "data": data}
    if paginated:
        env_props["pagination"] = R("Pagination")
    responses = {"200": {"description": "Success",
                         "content": {"application/json": {"schema": obj(env_props,
                                                                         ["meta", "data"],
                                                                         strict=False)}}}}
    for status in sorted({400, 401, 413, 500, *extra}):
        r = problem_response(status)
        if status in PORTAL_TITLES:
            r["description"] = PORTAL_TITLES[status]
        responses[str(status)] = r
    op_obj = {
        "operationId": op,
        "summary": summary,
        "tags": ["portal"],
        "security": security if security is not None else [{"portalCookie": []},
                                                           {"portalToken": []}],
        "requestBody": {"required": op == "portal.exchangeCode",
                        "content": {"application/json": {"schema": req}}},
        "responses": responses,
    }
    if security is None and op not in ("portal.getSession", "portal.listKeys",
                                       "portal.getVerifications"):
        op_obj["parameters"] = [{
            "name": "X-Keyshift-CSRF", "in": "header", "required": False,
            "schema": S(),
            "description": "Required with the session cookie: the session's `csrfToken` "
                           "(from portal.getSession). Not needed with a bearer access token."}]
    paths[f"/v2/{op}"] = {"post": op_obj}

paths["/v2/liveness"] = {"get": {
    "operationId": "liveness", "summary": "Liveness check (no auth)", "tags": ["liveness"],
    "security": [],
    "responses": {
        "200": {"description": "The server and its database are up",
                "content": {"application/json": {"schema": obj(
                    {"meta": R("Meta"), "data": obj({"message": S(example="OK")}, ["message"])},
                    ["meta", "data"])}}},
        "503": {"description": "The database is unavailable",
                "content": {"application/json": {"schema": R("ErrorEnvelope")}}}}}}

doc = {
    "openapi": "3.1.0",
    "info": {
        "title": "keyshift key service",
        "version": "0.1.0",
        "description": "The Unkey-v2-compatible subset served by `keyshift serve` (DESIGN.md §4). "
                       "Every answer carries `meta.requestId` and an `X-Request-Id` header. Errors are "
                       "`application/json`. Extensions: the `Idempotency-Key` header and "
                       "`hashVariant` and `keys[].start` on keys.migrateKeys.",
        "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
    },
    "servers": [{"url": "http://127.0.0.1:7070"}],
    "security": [{"rootKey": []}],
    "components": {
        "securitySchemes": {
            "rootKey": {"type": "http", "scheme": "bearer",
                        "description": "A root key: `Authorization: Bearer <root key>`."},
            "portalCookie": {"type": "apiKey", "in": "cookie", "name": "keyshift_portal",
                             "description": "The portal session cookie (HttpOnly; "
                                            "SameSite=Strict) set by the code exchange."},
            "portalToken": {"type": "http", "scheme": "bearer",
                            "description": "A portal access token (`pat_…`) from "
                                           "portal.exchangeCode."}},
        "schemas": schemas,
    },
    "paths": paths,
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "openapi.json")
with open(out, "w") as f:
    json.dump(doc, f, indent=2, ensure_ascii=False)
    f.write("\n")
print(f"wrote {os.path.normpath(out)}: {len(paths)} paths")
