// scenario.test.mts — a TypeScript client generated from openapi.yaml
// (openapi-typescript types + openapi-fetch) drives a live broker through
// the life of a topic (issue #7, item 3): create a topic, produce, fetch,
// long-poll, join a group, fetch as a member, commit, read the lag, leave.
// Every call goes through the generated types, so `tsc` refuses this file
// when the spec stops describing what it does; every answer is checked
// against what the broker must have done.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import createClient from "openapi-fetch";
import type { paths } from "../gen/strand.js";
import { Broker, until } from "./broker.mjs";

let broker: Broker;
// JSON answers only: the fetch route also answers binary batches and SSE
// (text), which this scenario does not ask for.
type Json = "application/json" | "application/problem+json";
let api: ReturnType<typeof createClient<paths, Json>>;
let text: ReturnType<typeof createClient<paths, "text/plain">>;

before(async () => {
  broker = await Broker.start();
  api = createClient<paths, Json>({ baseUrl: broker.url });
  text = createClient<paths, "text/plain">({ baseUrl: broker.url });
});

after(async () => { await broker?.stop(); });

const topic = "orders";
const group = "billing";

/** strand_http_parked_requests from /metrics: long polls waiting now. */
async function parkedRequests(): Promise<number> {
  const { data, response } = await text.GET("/metrics", { parseAs: "text" });
  assert.equal(response.status, 200);
  const line = (data ?? "").split("\n").find((l) => l.startsWith("strand_http_parked_requests "));
  assert.ok(line, "/metrics has strand_http_parked_requests");
  return Number(line.split(" ")[1]);
}

async function produce(records: { key?: string; value: unknown; partition: number }[]) {
  const { data, error, response } = await api.POST("/v1/topics/{topic}/records", {
    params: { path: { topic }, query: { acks: "all" } },
    body: { records },
  });
  assert.equal(response.status, 200, JSON.stringify(error));
  assert.ok(data);
  return data.offsets;
}

test("a client generated from openapi.yaml drives a broker end to end", async (t) => {
  await t.test("create a topic; a second create is a typed 409 problem", async () => {
    const { data, response } = await api.POST("/v1/topics", {
      body: { name: topic, partitions: 2, configs: { retention_ms: 86_400_000 } },
    });
    assert.equal(response.status, 201);
    assert.equal(response.headers.get("location"), `/v1/topics/${topic}`);
    assert.equal(data?.name, topic);
    assert.deepEqual(data?.partitions.map((p) => p.partition), [0, 1]);
    assert.equal(data?.configs.retention_ms, 86_400_000);

    const again = await api.POST("/v1/topics", { body: { name: topic } });
    assert.equal(again.response.status, 409);
    assert.equal(again.response.headers.get("content-type"), "application/problem+json");
    assert.equal(again.error?.code, "TOPIC_EXISTS");
    assert.equal(again.error?.retriable, false);
  });

  await t.test("produce: one offset per record, in request order", async () => {
    const offsets = await produce([
      { key: "k1", value: { n: 1 }, partition: 0 },
      { key: "k2", value: { n: 2 }, partition: 1 },
      { key: "k3", value: { n: 3 }, partition: 0 },
    ]);
    assert.deepEqual(offsets, [
      { partition: 0, offset: 0 }, { partition: 1, offset: 0 }, { partition: 0, offset: 1 },
    ]);
  });

  await t.test("fetch partition 0 from offset 0", async () => {
    const { data, response } = await api.GET("/v1/topics/{topic}/partitions/{p}/records", {
      params: { path: { topic, p: 0 }, query: { offset: 0 } },
    });
    assert.equal(response.status, 200);
    assert.deepEqual(data?.records.map((r) => [r.offset, r.key, r.value]),
                     [[0, "k1", { n: 1 }], [1, "k3", { n: 3 }]]);
    assert.equal(data?.next_offset, 2);
    assert.equal(data?.high_watermark, 2);
  });

  await t.test("a long poll parks, and an append answers it", async () => {
    const before = await parkedRequests();
    const started = Date.now();
    const pending = api.GET("/v1/topics/{topic}/partitions/{p}/records", {
      params: { path: { topic, p: 0 }, query: { offset: 2, max_wait_ms: 30_000 } },
    });
    await until("the long poll parked", 10_000,
                async () => (await parkedRequests()) > before ? true : undefined);
    await produce([{ key: "k4", value: { n: 4 }, partition: 0 }]);
    const { data, response } = await pending;
    assert.equal(response.status, 200);
    assert.deepEqual(data?.records.map((r) => [r.offset, r.value]), [[2, { n: 4 }]]);
    assert.ok(Date.now() - started < 30_000, "answered by the append, not by max_wait_ms");
  });

  let member = "";
  let generation = 0;
  await t.test("join a group: both partitions are the member's", async () => {
    const { data, response } = await api.POST("/v1/groups/{group}/members", {
      params: { path: { group } },
      body: { topics: [topic], auto_offset_reset: "earliest", session_timeout_ms: 30_000 },
    });
    assert.equal(response.status, 200);
    assert.ok(data);
    member = data.member_id;
    generation = data.generation;
    assert.ok(generation >= 1);
    assert.deepEqual(data.assignment, [{ topic, partitions: [0, 1] }]);
  });

  await t.test("fetch as the member, commit its positions, read the lag", async () => {
    const seen: unknown[] = [];
    let positions: { topic: string; partition: number; offset: number }[] = [];
    await until("the member read all 4 records", 10_000, async () => {
      const { data, response } = await api.GET("/v1/groups/{group}/members/{member}/records", {
        params: { path: { group, member }, query: { max_wait_ms: 1_000 } },
      });
      assert.equal(response.status, 200);
      seen.push(...(data?.records ?? []).map((r) => r.value));
      positions = data?.offsets ?? positions;
      return seen.length >= 4 ? true : undefined;
    });
    assert.deepEqual(seen.map((v) => (v as { n: number }).n).sort(), [1, 2, 3, 4]);

    const commit = await api.POST("/v1/groups/{group}/offsets", {
      params: { path: { group } },
      body: { member_id: member, generation, offsets: positions },
    });
    assert.equal(commit.response.status, 204);

    await produce([{ value: { n: 5 }, partition: 0 }, { value: { n: 6 }, partition: 1 },
                   { value: { n: 7 }, partition: 1 }]);
    const { data, response } = await api.GET("/v1/groups/{group}/offsets", {
      params: { path: { group } },
    });
    assert.equal(response.status, 200);
    assert.equal(data?.lag, 3);
    assert.deepEqual(data?.offsets.map((o) => [o.partition, o.offset, o.high_watermark, o.lag]),
                     [[0, 3, 4, 1], [1, 1, 3, 2]]);
  });

  await t.test("leave the group; the member is gone", async () => {
    const left = await api.DELETE("/v1/groups/{group}/members/{member}", {
      params: { path: { group, member } },
    });
    assert.equal(left.response.status, 204);
    const again = await api.POST("/v1/groups/{group}/members/{member}/heartbeat", {
      params: { path: { group, member } },
    });
    assert.equal(again.response.status, 404);
    assert.equal(again.error?.code, "UNKNOWN_MEMBER");
  });
});
