// The official Unkey TypeScript SDK (@unkey/api, v2), unchanged, against `keyshift serve`.
// Issue 4: "an official Unkey client pointed at this server must work unchanged". Every call
// goes through the SDK (its request serialisation and its zod response parsing) over loopback.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Unkey } from "@unkey/api";
import * as errors from "@unkey/api/models/errors";
import { startServer, rejection } from "../lib/keyshift.js";

let server;
let unkey;
let apiId;

before(async () => {
  server = await startServer();
  unkey = server.unkey;
  const api = await unkey.apis.createApi({ name: "compat-node" });
  apiId = api.data.apiId;
});

after(async () => {
  const { code, signal } = await server.stop();
  assert.equal(code, 0, `keyshift serve did not exit cleanly on SIGTERM (signal ${signal})`);
});

const sha256Base64 = (key) => createHash("sha256").update(key, "utf8").digest("base64");
const verify = async (key, extra = {}) => (await unkey.keys.verifyKey({ key, ...extra })).data;

test("apis.createApi answers an api id that apis.getApi finds", async () => {
  const created = await unkey.apis.createApi({ name: "compat-node-get" });
  assert.match(created.meta.requestId, /^req_/);
  assert.match(created.data.apiId, /^api_/);
  const got = await unkey.apis.getApi({ apiId: created.data.apiId });
  assert.equal(got.data.id, created.data.apiId);
  assert.equal(got.data.name, "compat-node-get");
});

test("keys.createKey with every option, then verifyKey VALID with a permission query", async () => {
  const expires = Date.now() + 3_600_000;
  const created = await unkey.keys.createKey({
    apiId,
    prefix: "sk_test",
    name: "full options",
    byteLength: 24,
    externalId: "user_full",
    meta: { plan: "pro", seats: 3, nested: { a: [1, 2] } },
    permissions: ["documents.read", "documents.write"],
    expires,
    credits: { remaining: 10 },
    ratelimits: [{ name: "requests", limit: 5, duration: 60_000, autoApply: true }],
    enabled: true,
  });
  const { keyId, key } = created.data;
  assert.match(keyId, /^key_/);
  assert.ok(key.startsWith("sk_test_"), "the key carries the requested prefix");

  const v = await verify(key, { permissions: "documents.read AND documents.write" });
  assert.equal(v.valid, true);
  assert.equal(v.code, "VALID");
  assert.equal(v.keyId, keyId);
  assert.equal(v.name, "full options");
  assert.deepEqual(v.meta, { plan: "pro", seats: 3, nested: { a: [1, 2] } });
  assert.equal(v.expires, expires);
  assert.equal(v.credits, 9, "one credit spent");
  assert.equal(v.enabled, true);
  assert.deepEqual([...v.permissions].sort(), ["documents.read", "documents.write"]);
  assert.equal(v.identity.externalId, "user_full");
  assert.match(v.identity.id, /^id_/);
  const rl = v.ratelimits.find((r) => r.name === "requests");
  assert.ok(rl, "the auto-applied rate limit is reported");
  assert.equal(rl.exceeded, false);
  assert.equal(rl.limit, 5);
  assert.equal(rl.remaining, 4);

  const got = (await unkey.keys.getKey({ keyId })).data;
  assert.equal(got.keyId, keyId);
  assert.equal(got.name, "full options");
  assert.ok(key.startsWith(got.start), "start is a prefix of the key");
  assert.equal(got.enabled, true);
  assert.equal(got.expires, expires);
  assert.equal(got.credits.remaining, 9);
  assert.equal(got.identity.externalId, "user_full");
  assert.deepEqual([...got.permissions].sort(), ["documents.read", "documents.write"]);
  assert.equal(got.ratelimits[0].name, "requests");
  assert.equal(got.ratelimits[0].duration, 60_000);
  assert.equal(typeof got.createdAt, "number");
});

test("verifyKey: INSUFFICIENT_PERMISSIONS, then OR/AND precedence", async () => {
  const { key } = (await unkey.keys.createKey({ apiId, permissions: ["a", "c"] })).data;
  const denied = await verify(key, { permissions: "b" });
  assert.equal(denied.valid, false);
  assert.equal(denied.code, "INSUFFICIENT_PERMISSIONS");
  assert.equal((await verify(key, { permissions: "b OR a AND c" })).code, "VALID");
  assert.equal((await verify(key, { permissions: "(b OR a) AND c" })).code, "VALID");
  assert.equal((await verify(key, { permissions: "(b OR c) AND d" })).code, "INSUFFICIENT_PERMISSIONS");
});

test("verifyKey: USAGE_EXCEEDED once the credits are spent, and credits.cost", async () => {
  const { key, keyId } = (await unkey.keys.createKey({ apiId, credits: { remaining: 3 } })).data;
  assert.equal((await verify(key)).credits, 2);
  assert.equal((await verify(key, { credits: { cost: 2 } })).credits, 0);
  const out = await verify(key);
  assert.equal(out.valid, false);
  assert.equal(out.code, "USAGE_EXCEEDED");
  assert.equal(out.credits, 0);
  assert.equal((await unkey.keys.getKey({ keyId })).data.credits.remaining, 0);
});

test("verifyKey: NOT_FOUND for an unknown key is an outcome, not an error", async () => {
  const out = await verify("sk_" + randomBytes(20).toString("hex"));
  assert.equal(out.valid, false);
  assert.equal(out.code, "NOT_FOUND");
  assert.equal(out.keyId, undefined);
});

test("keys.updateKey: DISABLED after enabled=false, fields changed, null clears", async () => {
  const { key, keyId } = (
    await unkey.keys.createKey({ apiId, name: "before", meta: { a: 1 }, externalId: "user_upd" })
  ).data;
  assert.equal((await verify(key)).code, "VALID");

  const upd = await unkey.keys.updateKey({ keyId, name: "after", meta: { b: 2 }, enabled: false });
  assert.match(upd.meta.requestId, /^req_/);
  const v = await verify(key);
  assert.equal(v.valid, false);
  assert.equal(v.code, "DISABLED");

  let got = (await unkey.keys.getKey({ keyId })).data;
  assert.equal(got.name, "after");
  assert.deepEqual(got.meta, { b: 2 });
  assert.equal(got.enabled, false);

  await unkey.keys.updateKey({ keyId, enabled: true, name: null, externalId: null });
  got = (await unkey.keys.getKey({ keyId })).data;
  assert.equal(got.enabled, true);
  assert.equal(got.name, undefined);
  assert.equal(got.identity, undefined);
  assert.deepEqual(got.meta, { b: 2 }, "omitted fields are preserved");
  assert.equal((await verify(key)).code, "VALID");
});

test("verifyKey: EXPIRED after updateKey sets a past expiry", async () => {
  const { key, keyId } = (await unkey.keys.createKey({ apiId })).data;
  await unkey.keys.updateKey({ keyId, expires: Date.now() - 1000 });
  const v = await verify(key);
  assert.equal(v.valid, false);
  assert.equal(v.code, "EXPIRED");
});

test("permissions.createPermission / createRole / listRoles, keys.addPermissions / setRoles", async () => {
  const perm = await unkey.permissions.createPermission({
    name: "invoices.read",
    slug: "invoices.read",
    description: "read invoices",
  });
  assert.match(perm.data.permissionId, /^perm_/);
  const got = (await unkey.permissions.getPermission({ permission: perm.data.permissionId })).data;
  assert.equal(got.id, perm.data.permissionId);
  assert.equal(got.slug, "invoices.read");

  const role = await unkey.permissions.createRole({
    name: "billing",
    description: "billing staff",
  });
  assert.match(role.data.roleId, /^role_/);

  const names = [];
  for await (const page of await unkey.permissions.listRoles({ limit: 100 })) {
    for (const r of page.result.data) names.push(r.name);
  }
  assert.ok(names.includes("billing"), `listRoles: ${names}`);

  const { key, keyId } = (await unkey.keys.createKey({ apiId, permissions: ["invoices.read"] })).data;
  assert.equal((await verify(key, { permissions: "invoices.write" })).code, "INSUFFICIENT_PERMISSIONS");

  const added = await unkey.keys.addPermissions({ keyId, permissions: ["invoices.write"] });
  const addedNames = added.data.map((p) => p.name).sort();
  assert.deepEqual(addedNames, ["invoices.read", "invoices.write"]);
  for (const p of added.data) {
    assert.match(p.id, /^perm_/);
    assert.equal(typeof p.slug, "string");
  }
  assert.equal((await verify(key, { permissions: "invoices.read AND invoices.write" })).code, "VALID");

  const set = await unkey.keys.setRoles({ keyId, roles: ["billing"] });
  assert.deepEqual(set.data.map((r) => r.name), ["billing"]);
  assert.match(set.data[0].id, /^role_/);
  const v = await verify(key);
  assert.deepEqual(v.roles, ["billing"]);
  assert.deepEqual((await unkey.keys.getKey({ keyId })).data.roles, ["billing"]);

  const unknownRole = await rejection(() => unkey.keys.setRoles({ keyId, roles: ["no-such-role"] }));
  assert.ok(unknownRole instanceof errors.NotFoundErrorResponse, `got ${unknownRole?.constructor?.name}`);
});

test("keys.rerollKey: a new key with the same settings; expiration 0 revokes the old one", async () => {
  const { key: oldKey, keyId } = (
    await unkey.keys.createKey({ apiId, prefix: "rr", permissions: ["p.read"], meta: { who: "rr" } })
  ).data;
  const rerolled = (await unkey.keys.rerollKey({ keyId, expiration: 0 })).data;
  assert.notEqual(rerolled.keyId, keyId);
  assert.notEqual(rerolled.key, oldKey);
  assert.ok(rerolled.key.startsWith("rr_"));
  const v = await verify(rerolled.key, { permissions: "p.read" });
  assert.equal(v.code, "VALID");
  assert.deepEqual(v.meta, { who: "rr" });
  const old = await verify(oldKey);
  assert.equal(old.valid, false);
  assert.ok(["EXPIRED", "NOT_FOUND"].includes(old.code), old.code);

  const { key: graceKey, keyId: graceId } = (await unkey.keys.createKey({ apiId })).data;
  const next = (await unkey.keys.rerollKey({ keyId: graceId, expiration: 3_600_000 })).data;
  assert.equal((await verify(graceKey)).code, "VALID", "old key still works during the overlap");
  assert.equal((await verify(next.key)).code, "VALID");
});

test("keys.deleteKey: the key verifies as NOT_FOUND and getKey answers 404", async () => {
  const { key, keyId } = (await unkey.keys.createKey({ apiId })).data;
  const del = await unkey.keys.deleteKey({ keyId });
  assert.match(del.meta.requestId, /^req_/);
  assert.equal((await verify(key)).code, "NOT_FOUND");
  const err = await rejection(() => unkey.keys.getKey({ keyId }));
  assert.ok(err instanceof errors.NotFoundErrorResponse, `got ${err?.constructor?.name}`);

  const { key: k2, keyId: id2 } = (await unkey.keys.createKey({ apiId })).data;
  await unkey.keys.deleteKey({ keyId: id2, permanent: true });
  assert.equal((await verify(k2)).code, "NOT_FOUND");
});

test("keys.migrateKeys: sha256/base64 hashes from node:crypto, plaintext then verifies", async () => {
  const plaintexts = Array.from({ length: 25 }, (_, i) => `legacy_${i}_${randomBytes(12).toString("hex")}`);
  plaintexts.push("clé-ünïcødé-🔑-キー");
  const keys = plaintexts.map((p, i) => ({
    hash: sha256Base64(p),
    name: `legacy ${i}`,
    externalId: `cust_${i % 3}`,
    meta: { legacyIndex: i },
    permissions: ["legacy.read"],
    credits: { remaining: 100 },
  }));
  const res = (await unkey.keys.migrateKeys({ migrationId: "compat_node", apiId, keys })).data;
  assert.equal(res.failed.length, 0);
  assert.equal(res.migrated.length, plaintexts.length);
  const byHash = new Map(res.migrated.map((m) => [m.hash, m.keyId]));
  for (const [i, p] of plaintexts.entries()) {
    const v = await verify(p, { permissions: "legacy.read" });
    assert.equal(v.code, "VALID", `migrated key ${i}`);
    assert.equal(v.keyId, byHash.get(sha256Base64(p)));
    assert.equal(v.name, `legacy ${i}`);
    assert.deepEqual(v.meta, { legacyIndex: i });
    assert.equal(v.identity.externalId, `cust_${i % 3}`);
    assert.equal(v.credits, 99);
  }
  assert.equal((await verify(plaintexts[0] + "x")).code, "NOT_FOUND");

  // Migrating an already present hash is a partial success: it is reported as failed.
  const fresh = `legacy_fresh_${randomBytes(8).toString("hex")}`;
  const again = (
    await unkey.keys.migrateKeys({
      migrationId: "compat_node",
      apiId,
      keys: [{ hash: sha256Base64(plaintexts[0]) }, { hash: sha256Base64(fresh) }],
    })
  ).data;
  assert.deepEqual(again.failed, [sha256Base64(plaintexts[0])]);
  assert.deepEqual(again.migrated.map((m) => m.hash), [sha256Base64(fresh)]);
  assert.equal((await verify(fresh)).code, "VALID");
});

test("identities.createIdentity / getIdentity, keys linked by externalId", async () => {
  const created = await unkey.identities.createIdentity({
    externalId: "org_acme",
    meta: { tier: "gold" },
    ratelimits: [{ name: "org", limit: 100, duration: 60_000, autoApply: false }],
  });
  const identityId = created.data.identityId;
  assert.match(identityId, /^id_/);

  const byExternal = (await unkey.identities.getIdentity({ identity: "org_acme" })).data;
  assert.equal(byExternal.id, identityId);
  assert.equal(byExternal.externalId, "org_acme");
  assert.deepEqual(byExternal.meta, { tier: "gold" });
  assert.equal(byExternal.ratelimits[0].name, "org");
  assert.equal(byExternal.ratelimits[0].limit, 100);
  const byId = (await unkey.identities.getIdentity({ identity: identityId })).data;
  assert.equal(byId.externalId, "org_acme");

  const { key } = (await unkey.keys.createKey({ apiId, externalId: "org_acme" })).data;
  const v = await verify(key);
  assert.equal(v.identity.id, identityId);
  assert.deepEqual(v.identity.meta, { tier: "gold" });

  const dup = await rejection(() => unkey.identities.createIdentity({ externalId: "org_acme" }));
  assert.ok(dup instanceof errors.ConflictErrorResponse, `got ${dup?.constructor?.name}`);
  const missing = await rejection(() => unkey.identities.getIdentity({ identity: "org_nobody" }));
  assert.ok(missing instanceof errors.NotFoundErrorResponse, `got ${missing?.constructor?.name}`);
});

test("apis.listKeys paginates with the SDK's page iterator", async () => {
  const api = (await unkey.apis.createApi({ name: "compat-node-list" })).data.apiId;
  const ids = new Set();
  for (let i = 0; i < 7; i++) {
    ids.add((await unkey.keys.createKey({ apiId: api, name: `k${i}`, externalId: i < 2 ? "lister" : undefined })).data.keyId);
  }
  const seen = [];
  let pages = 0;
  for await (const page of await unkey.apis.listKeys({ apiId: api, limit: 3 })) {
    pages += 1;
    assert.ok(page.result.data.length <= 3);
    for (const k of page.result.data) seen.push(k.keyId);
    if (pages > 10) assert.fail("pagination does not end");
  }
  assert.equal(pages, 3);
  assert.equal(seen.length, 7);
  assert.deepEqual(new Set(seen), ids);

  const first = await unkey.apis.listKeys({ apiId: api, limit: 3 });
  assert.equal(first.result.pagination.hasMore, true);
  assert.equal(typeof first.result.pagination.cursor, "string");

  const mine = await unkey.apis.listKeys({ apiId: api, externalId: "lister" });
  assert.equal(mine.result.data.length, 2);
  for (const k of mine.result.data) assert.equal(k.identity.externalId, "lister");
});

test("verifyKey: RATE_LIMITED by an auto-applied limit and by a named limit in the request", async () => {
  const { key } = (
    await unkey.keys.createKey({
      apiId,
      ratelimits: [
        { name: "burst", limit: 2, duration: 60_000, autoApply: true },
        { name: "heavy", limit: 1, duration: 60_000, autoApply: false },
      ],
    })
  ).data;
  assert.equal((await verify(key)).code, "VALID");
  assert.equal((await verify(key)).code, "VALID");
  const limited = await verify(key);
  assert.equal(limited.valid, false);
  assert.equal(limited.code, "RATE_LIMITED");
  const burst = limited.ratelimits.find((r) => r.name === "burst");
  assert.equal(burst.exceeded, true);
  assert.equal(burst.remaining, 0);
  assert.ok(burst.reset > Date.now() - 1000);

  const { key: k2 } = (
    await unkey.keys.createKey({
      apiId,
      ratelimits: [{ name: "heavy", limit: 1, duration: 60_000, autoApply: false }],
    })
  ).data;
  assert.equal((await verify(k2)).code, "VALID", "a limit without autoApply is not checked unless named");
  assert.equal((await verify(k2)).code, "VALID");
  assert.equal((await verify(k2, { ratelimits: [{ name: "heavy" }] })).code, "VALID");
  assert.equal((await verify(k2, { ratelimits: [{ name: "heavy" }] })).code, "RATE_LIMITED");
});

test("keys.whoami and keys.updateCredits", async () => {
  const { key, keyId } = (await unkey.keys.createKey({ apiId, name: "who", credits: { remaining: 5 } })).data;
  const who = (await unkey.keys.whoami({ key })).data;
  assert.equal(who.keyId, keyId);
  assert.equal(who.name, "who");
  const cr = (await unkey.keys.updateCredits({ keyId, operation: "increment", value: 3 })).data;
  assert.equal(cr.remaining, 8);
  assert.equal((await verify(key)).credits, 7);
});

test("errors: an unknown root key is the SDK's 401 UnauthorizedErrorResponse", async () => {
  const strangerKey = "unkey_" + randomBytes(16).toString("hex");
  const stranger = new Unkey({ serverURL: server.baseUrl, rootKey: strangerKey });
  const err = await rejection(() => stranger.apis.createApi({ name: "nope" }));
  assert.ok(err instanceof errors.UnauthorizedErrorResponse, `got ${err?.constructor?.name}: ${err?.message}`);
  assert.equal(err.statusCode, 401);
  assert.match(err.data$.meta.requestId, /^req_/);
  assert.equal(err.data$.error.status, 401);
  assert.ok(!err.body.includes(strangerKey), "the root key is not echoed");
});

test("errors: getKey on an unknown id is the SDK's 404 NotFoundErrorResponse", async () => {
  const err = await rejection(() => unkey.keys.getKey({ keyId: "key_doesnotexist123" }));
  assert.ok(err instanceof errors.NotFoundErrorResponse, `got ${err?.constructor?.name}: ${err?.message}`);
  assert.equal(err.statusCode, 404);
  assert.equal(err.data$.error.status, 404);
  assert.equal(typeof err.data$.error.type, "string");
  assert.equal(typeof err.data$.error.detail, "string");
});

test("errors: an invalid body is the SDK's 400 BadRequestErrorResponse with errors[]", async () => {
  const err = await rejection(() => unkey.keys.createKey({ apiId, byteLength: 8 }));
  assert.ok(err instanceof errors.BadRequestErrorResponse, `got ${err?.constructor?.name}: ${err?.message}`);
  assert.equal(err.statusCode, 400);
  const details = err.data$.error;
  assert.equal(details.status, 400);
  assert.ok(details.errors.length >= 1);
  assert.ok(
    details.errors.some((e) => e.location.includes("byteLength")),
    JSON.stringify(details.errors),
  );

  const badPrefix = await rejection(() => unkey.keys.createKey({ apiId, prefix: "no spaces!" }));
  assert.ok(badPrefix instanceof errors.BadRequestErrorResponse);
  assert.ok(badPrefix.data$.error.errors.some((e) => e.location.includes("prefix")));

  const unknownApi = await rejection(() => unkey.keys.createKey({ apiId: "api_missing0000" }));
  assert.ok(unknownApi instanceof errors.NotFoundErrorResponse, `got ${unknownApi?.constructor?.name}`);
});
