// Load generator for bench/run.py: one scenario per process, a JSON config file in argv[2],
// a JSON result on the last line of stdout. Talks to 127.0.0.1 only; every loop is bounded by a
// duration, a count or a timeout. Modules come from bench/reference/node_modules.
"use strict";

const fs = require("fs");
const http = require("http");
const path = require("path");
const { createRequire } = require("module");

const requireRef = createRequire(path.join(__dirname, "..", "reference", "package.json"));
const { io } = requireRef("socket.io-client");

const config = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const base = new URL(config.base);
for (const url of [config.base, config.socketBase || config.base]) {
  if (!["127.0.0.1", "localhost"].includes(new URL(url).hostname)) throw new Error("loopback only");
}
const users = config.usersFile ? JSON.parse(fs.readFileSync(config.usersFile, "utf8")) : [];
const OURS = config.kind === "ours";
const PRESENCE_EVENTS = new Set(["getOnlineUsers", "userOnline", "userOffline"]);
// Unique to this run: a `clientMsgId` of an earlier run on the same database would be answered
// with that run's message (the send is idempotent).
const RUN = `${process.pid.toString(36)}${Date.now().toString(36)}`;
const log = (...args) => process.stderr.write(args.join(" ") + "\n");

// --- helpers ---------------------------------------------------------------------------------
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms

function percentiles(values) {
  if (!values.length) return { n: 0, p50: null, p99: null, max: null, mean: null };
  const sorted = Float64Array.from(values).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const sum = sorted.reduce((a, b) => a + b, 0);
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1], mean: sum / sorted.length };
}

function procStats(pid) {
  if (!pid) return null;
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
    return { rssKb, cpuSeconds: ticks / 100 };
  } catch (error) {
    return null;
  }
}

function delta(before, after) {
  if (!before || !after) return null;
  return { rssKb: after.rssKb - before.rssKb, cpuSeconds: +(after.cpuSeconds - before.cpuSeconds).toFixed(2) };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: config.httpSockets || 64 });

function request(method, urlPath, token, body) {
  return new Promise((resolve) => {
    const data = body ? JSON.stringify(body) : null;
    const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
    if (data) {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = Buffer.byteLength(data);
    }
    const req = http.request(
      { host: base.hostname, port: base.port, method, path: urlPath, headers, agent, timeout: 30000 },
      (res) => {
        const chunks = [];
        res.on("data", (chunk) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
      }
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (error) => resolve({ status: 0, error: String(error.message || error) }));
    if (data) req.write(data);
    req.end();
  });
}

let sendCounter = 0;
let readFrames = 0; // messagesRead events received by all sockets
const sentAt = new Map(); // tag → {start, receiverId}
const delivered = []; // latencies of the current phase (ms)
let deliveredCount = 0;

function restSend(sender, receiver, tag) {
  return request("POST", `/api/messages/send/${receiver.id}`, sender.token, { message: `bench ${tag}` });
}

// --- closed-loop REST sends (S1, S7 fill) ------------------------------------------------------
async function closedLoop({ pairs, concurrency, durationS, count, record = true }) {
  const latencies = [];
  let ok = 0;
  let errors = 0;
  const statuses = {};
  const started = now();
  const deadline = started + (durationS ? durationS * 1000 : 3600e3);
  let issued = 0;
  async function worker(w) {
    while (now() < deadline && (count === undefined || issued < count)) {
      issued++;
      const [sender, receiver] = pairs[w % pairs.length];
      const t0 = now();
      const res = await restSend(sender, receiver, `c${++sendCounter}`);
      if (res.status === 201) {
        ok++;
        if (record) latencies.push(now() - t0);
      } else {
        errors++;
        statuses[res.status] = (statuses[res.status] || 0) + 1;
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const elapsed = (now() - started) / 1000;
  return { ok, errors, statuses, elapsedS: +elapsed.toFixed(2), perSecond: +(ok / elapsed).toFixed(1), latencyMs: percentiles(latencies) };
}

// --- sockets -----------------------------------------------------------------------------------
const presence = { frames: 0, bytes: 0, last: 0 };
const disconnects = {}; // reason → count, for sockets that had connected

function openSocket(user) {
  return new Promise((resolve) => {
    const options = { transports: ["websocket"], reconnection: false, forceNew: true, timeout: 30000 };
    // `originalMode`: ours, connected as the reference front end does (`userId` in the query,
    // no `auth` token; the token rides in the query, as a browser's cookie would).
    if (OURS && config.originalMode) options.query = { token: user.token, userId: user.id };
    else if (OURS) options.auth = { token: user.token };
    else options.query = { userId: user.id };
    const socket = io(config.socketBase || config.base, options);
    socket.userId = user.id;
    socket.onAny((event, ...args) => {
      if (event === "messagesRead") readFrames++;
      if (PRESENCE_EVENTS.has(event)) {
        presence.frames++;
        presence.bytes += Buffer.byteLength(JSON.stringify([event, ...args])) + 1;
        presence.last = now();
      }
    });
    socket.on("disconnect", (reason) => {
      if (reason !== "io client disconnect") disconnects[reason] = (disconnects[reason] || 0) + 1;
    });
    socket.on("newMessage", (message) => {
      const body = message && message.message;
      if (typeof body !== "string" || !body.startsWith("bench ")) return;
      const tag = body.slice(6);
      const fanout = groupSent.get(tag);
      if (fanout) {
        fanout.received++;
        fanout.last = now();
        if (fanout.first === null) fanout.first = fanout.last;
        if (fanout.received === fanout.expected) fanout.resolve();
        socket.groupSeq = Math.max(socket.groupSeq || 0, message.seq || 0);
        return;
      }
      const entry = sentAt.get(tag);
      if (entry && entry.receiverId === socket.userId) {
        sentAt.delete(tag);
        delivered.push(now() - entry.start);
        deliveredCount++;
      }
    });
    // socket.io-client's own timeout covers only the transport; a namespace CONNECT the server
    // never answers would wait forever.
    const timer = setTimeout(() => resolve({ socket, ok: false, error: "no CONNECT answer in 30 s" }), 30000);
    socket.once("connect", () => { clearTimeout(timer); resolve({ socket, ok: true }); });
    socket.once("connect_error", (error) => { clearTimeout(timer); resolve({ socket, ok: false, error: String(error.message || error) }); });
  });
}

async function connectAll(list, concurrency, timeoutS) {
  const sockets = [];
  const failures = {};
  let next = 0;
  const started = now();
  const deadline = started + timeoutS * 1000;
  async function worker() {
    while (next < list.length && now() < deadline) {
      const user = list[next++];
      const result = await openSocket(user);
      if (result.ok) sockets.push(result.socket);
      else {
        failures[result.error] = (failures[result.error] || 0) + 1;
        result.socket.close();
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker));
  const elapsed = (now() - started) / 1000;
  const failed = Object.values(failures).reduce((a, b) => a + b, 0);
  return {
    sockets,
    summary: {
      requested: list.length, connected: sockets.length, failed, notAttempted: list.length - next,
      failures, elapsedS: +elapsed.toFixed(2), perSecond: +(sockets.length / elapsed).toFixed(1),
    },
  };
}

async function waitQuiet(quietMs, timeoutS) {
  const deadline = now() + timeoutS * 1000;
  presence.last = presence.last || now();
  while (now() < deadline && now() - presence.last < quietMs) await sleep(100);
  while (now() < deadline && now() - presence.last < quietMs) await sleep(100);
  return now() < deadline;
}

async function drainDeliveries(graceS) {
  const deadline = now() + graceS * 1000;
  while (sentAt.size && now() < deadline) await sleep(50);
}

function resetPhase() {
  sentAt.clear();
  delivered.length = 0;
  deliveredCount = 0;
}

// One send of a delivery phase: REST or the socket `sendMessage` event (ours only).
async function phaseSend(via, sender, receiver, senderSocket) {
  const tag = `d${++sendCounter}`;
  sentAt.set(tag, { start: now(), receiverId: receiver.id });
  const t0 = now();
  if (via === "socket") {
    try {
      const ack = await senderSocket.timeout(30000).emitWithAck("sendMessage", { to: receiver.id, message: `bench ${tag}` });
      if (ack && ack.ok) return { ok: true, ms: now() - t0 };
      sentAt.delete(tag);
      return { ok: false, status: (ack && ack.error && ack.error.code) || "bad_ack" };
    } catch (error) {
      sentAt.delete(tag);
      return { ok: false, status: "ack_timeout" };
    }
  }
  const res = await restSend(sender, receiver, tag);
  if (res.status === 201) return { ok: true, ms: now() - t0 };
  sentAt.delete(tag);
  return { ok: false, status: res.status };
}

async function deliveryPhase(phase, pairs) {
  resetPhase();
  const before = procStats(config.serverPid);
  const latencies = [];
  const statuses = {};
  let ok = 0;
  let errors = 0;
  let skipped = 0;
  let inFlight = 0;
  const started = now();
  const durationMs = phase.durationS * 1000;
  const record = (result) => {
    if (result.ok) {
      ok++;
      latencies.push(result.ms);
    } else {
      errors++;
      statuses[result.status] = (statuses[result.status] || 0) + 1;
    }
  };
  if (phase.type === "rate") {
    // Open loop: sends start on schedule whether or not earlier ones finished.
    const maxInFlight = phase.maxInFlight || 2000;
    let issued = 0;
    const pending = [];
    while (now() - started < durationMs) {
      const due = Math.floor(((now() - started) / 1000) * phase.rate);
      while (issued < due) {
        const [sender, receiver, socket] = pairs[issued % pairs.length];
        issued++;
        if (inFlight >= maxInFlight) {
          skipped++;
          continue;
        }
        inFlight++;
        pending.push(phaseSend(phase.via, sender, receiver, socket).then((r) => { inFlight--; record(r); }));
      }
      await sleep(2);
    }
    await Promise.all(pending);
  } else {
    let i = 0;
    async function worker() {
      while (now() - started < durationMs) {
        const [sender, receiver, socket] = pairs[i++ % pairs.length];
        record(await phaseSend(phase.via, sender, receiver, socket));
      }
    }
    await Promise.all(Array.from({ length: phase.concurrency }, worker));
  }
  const elapsed = (now() - started) / 1000;
  await drainDeliveries(phase.graceS || 5);
  const after = procStats(config.serverPid);
  const usage = delta(before, after);
  return {
    name: phase.name, type: phase.type, via: phase.via, offeredRate: phase.rate || null,
    ok, errors, statuses, skippedByGenerator: skipped, elapsedS: +elapsed.toFixed(2),
    perSecond: +(ok / elapsed).toFixed(1), sendLatencyMs: percentiles(latencies),
    deliveryMs: percentiles(delivered), delivered: deliveredCount, lost: sentAt.size,
    serverCpuSeconds: usage && usage.cpuSeconds,
    serverCpuMsPerMessage: usage && ok ? +((usage.cpuSeconds * 1000) / ok).toFixed(3) : null,
  };
}

// Pairs among connected users: the first half send to the second half.
function pairsAmong(list, sockets) {
  const bySocket = new Map(sockets.map((s) => [s.userId, s]));
  const connectedUsers = list.filter((u) => bySocket.has(u.id));
  const half = Math.floor(connectedUsers.length / 2);
  const pairs = [];
  for (let i = 0; i < half; i++) {
    pairs.push([connectedUsers[i], connectedUsers[half + i], bySocket.get(connectedUsers[i].id)]);
  }
  return pairs;
}

// The process's stats once it spent under 20 ms of CPU in half a second (at most `maxS` s).
async function waitCpuIdle(pid, maxS) {
  let last = procStats(pid);
  const deadline = Date.now() + maxS * 1000;
  while (last && Date.now() < deadline) {
    await sleep(500);
    const now = procStats(pid);
    if (!now || now.cpuSeconds - last.cpuSeconds < 0.02) return now;
    last = now;
  }
  return last;
}

async function closeAll(sockets) {
  for (const socket of sockets) socket.close();
  await sleep(500);
}

// --- group fan-out (S8) ------------------------------------------------------------------------
// tag → {start, expected, received, first, last}: one message into a group, counted at every
// member's socket (the sender's own socket gets it too).
const groupSent = new Map();

async function groupSend(socket, conversationId, expected) {
  const tag = `f${++sendCounter}`;
  let resolve;
  const done = new Promise((r) => { resolve = r; });
  const entry = { start: now(), expected, received: 0, first: null, last: null, resolve, done };
  groupSent.set(tag, entry);
  try {
    const ack = await socket.timeout(30000).emitWithAck(
      "sendMessage", { conversationId, message: `bench ${tag}`, clientMsgId: tag },
    );
    if (!(ack && ack.ok)) {
      groupSent.delete(tag);
      return { ok: false, status: (ack && ack.error && ack.error.code) || "bad_ack" };
    }
  } catch (error) {
    groupSent.delete(tag);
    return { ok: false, status: "ack_timeout" };
  }
  entry.ackMs = now() - entry.start;
  return { ok: true, entry };
}

// Wait until every entry reached all its sockets, or `graceS` passed.
async function fanoutDrained(entries, graceS) {
  const deadline = now() + graceS * 1000;
  for (const entry of entries) {
    const left = deadline - now();
    if (left > 0 && entry.received < entry.expected) await Promise.race([entry.done, sleep(left)]);
  }
}

function fanoutSummary(entries) {
  const complete = entries.filter((e) => e.received >= e.expected);
  return {
    sent: entries.length,
    complete: complete.length,
    missingDeliveries: entries.reduce((n, e) => n + Math.max(0, e.expected - e.received), 0),
    extraDeliveries: entries.reduce((n, e) => n + Math.max(0, e.received - e.expected), 0),
    ackMs: percentiles(entries.map((e) => e.ackMs)),
    firstDeliveryMs: percentiles(entries.filter((e) => e.first !== null).map((e) => e.first - e.start)),
    lastDeliveryMs: percentiles(complete.map((e) => e.last - e.start)),
  };
}

// Messages one after another from random members; each waits for the previous one to reach
// every socket, so the figure is the fan-out of one message on an otherwise idle server.
async function fanoutSequential(sockets, conversationId, count) {
  const entries = [];
  const statuses = {};
  for (let i = 0; i < count; i++) {
    const socket = sockets[Math.floor(Math.random() * sockets.length)];
    const result = await groupSend(socket, conversationId, sockets.length);
    if (!result.ok) {
      statuses[result.status] = (statuses[result.status] || 0) + 1;
      continue;
    }
    await fanoutDrained([result.entry], 10);
    entries.push(result.entry);
    groupSent.clear();
  }
  return { ...fanoutSummary(entries), errors: statuses };
}

// `senders` closed-loop senders for `durationS`; with `readers`, that many other members emit
// `markRead` (the latest seq their socket has seen) in a closed loop meanwhile.
async function fanoutFlat(sockets, conversationId, { senders, readers, durationS, graceS }) {
  const entries = [];
  const statuses = {};
  const reads = { ok: 0, errors: 0, latencyMs: [] };
  const framesBefore = readFrames;
  const before = procStats(config.serverPid);
  const started = now();
  const deadline = started + durationS * 1000;
  async function sender(socket) {
    while (now() < deadline) {
      const result = await groupSend(socket, conversationId, sockets.length);
      if (result.ok) entries.push(result.entry);
      else statuses[result.status] = (statuses[result.status] || 0) + 1;
    }
  }
  async function reader(socket) {
    while (now() < deadline) {
      const t0 = now();
      try {
        const ack = await socket.timeout(30000).emitWithAck("markRead", { conversationId, seq: socket.groupSeq || 0 });
        if (ack && ack.ok) {
          reads.ok++;
          reads.latencyMs.push(now() - t0);
        } else reads.errors++;
      } catch (error) {
        reads.errors++;
      }
    }
  }
  const sending = sockets.slice(0, senders);
  const reading = readers ? sockets.slice(senders, senders + readers) : [];
  await Promise.all([...sending.map(sender), ...reading.map(reader)]);
  const elapsed = (now() - started) / 1000;
  const usage = delta(before, procStats(config.serverPid));
  await fanoutDrained(entries, graceS);
  const summary = fanoutSummary(entries);
  groupSent.clear();
  return {
    senders: sending.length, readers: reading.length, elapsedS: +elapsed.toFixed(2),
    perSecond: +(entries.length / elapsed).toFixed(1),
    deliveriesPerSecond: +((entries.length * sockets.length) / elapsed).toFixed(0),
    ...summary, errors: statuses,
    serverCpuMsPerMessage: usage && entries.length ? +((usage.cpuSeconds * 1000) / entries.length).toFixed(2) : null,
    markRead: readers
      ? { ok: reads.ok, errors: reads.errors, perSecond: +(reads.ok / elapsed).toFixed(1), latencyMs: percentiles(reads.latencyMs) }
      : null,
    messagesReadFrames: readFrames - framesBefore,
  };
}

// Database commands per send (SecantusDB `serverStatus.opcounters`) and the database's CPU,
// over `count` sends into one group, each delivered everywhere before the next.
async function dbOpsPerSend(db, sockets, conversationId, count) {
  const opcounters = async () => (await db.command({ serverStatus: 1 })).opcounters;
  const before = await opcounters();
  const cpuBefore = procStats(config.dbPid);
  const entries = [];
  for (let i = 0; i < count; i++) {
    const result = await groupSend(sockets[i % sockets.length], conversationId, sockets.length);
    if (!result.ok) continue;
    await fanoutDrained([result.entry], 10);
    entries.push(result.entry);
  }
  groupSent.clear();
  const after = await opcounters();
  const cpu = delta(cpuBefore, procStats(config.dbPid));
  const sends = entries.length;
  const ops = {};
  for (const key of Object.keys(after)) ops[key] = sends ? +((Number(after[key]) - Number(before[key] || 0)) / sends).toFixed(2) : null;
  ops.total = sends ? +Object.keys(after).reduce((n, k) => n + (Number(after[k]) - Number(before[k] || 0)) / sends, 0).toFixed(2) : null;
  ops["db CPU ms"] = cpu && sends ? +((cpu.cpuSeconds * 1000) / sends).toFixed(2) : null;
  return { members: sockets.length, sends, ops, ackMs: percentiles(entries.map((e) => e.ackMs)) };
}

// --- scenarios ---------------------------------------------------------------------------------
// What a scenario has measured so far, printed if the watchdog stops it.
const partial = {};

const scenarios = {
  // S1 / S7-like: closed loop REST sends, no sockets.
  async rest() {
    const pairs = config.pairs.map(([s, r]) => [users[s], users[r]]);
    const before = procStats(config.serverPid);
    const result = await closedLoop({ pairs, concurrency: config.concurrency, durationS: config.durationS });
    const usage = delta(before, procStats(config.serverPid));
    result.serverCpuSeconds = usage && usage.cpuSeconds;
    result.serverCpuMsPerMessage = usage && result.ok ? +((usage.cpuSeconds * 1000) / result.ok).toFixed(3) : null;
    return result;
  },

  // S2/S3/S4/S5: connect sockets, optionally send, hold, measure.
  async sockets() {
    const list = users.slice(0, config.connect);
    const before = procStats(config.serverPid);
    const { sockets, summary } = await connectAll(list, config.connectConcurrency || 100, config.connectTimeoutS || 120);
    const afterConnect = procStats(config.serverPid);
    const quiet = await waitQuiet(config.quietMs || 1500, config.settleTimeoutS || 60);
    const settled = procStats(config.serverPid);
    const result = {
      connect: summary,
      presence: { frames: presence.frames, bytes: presence.bytes, settled: quiet },
      server: {
        before, afterConnect, settled,
        rssPerConnectionKb: sockets.length && before && settled ? +((settled.rssKb - before.rssKb) / sockets.length).toFixed(1) : null,
        connectCpuSeconds: before && settled ? +(settled.cpuSeconds - before.cpuSeconds).toFixed(2) : null,
      },
      phases: [],
    };
    if (config.holdS) {
      const h0 = procStats(config.serverPid);
      await sleep(config.holdS * 1000);
      const h1 = procStats(config.serverPid);
      result.server.holdCpuSeconds = delta(h0, h1) && delta(h0, h1).cpuSeconds;
      result.server.holdS = config.holdS;
    }
    const pairs = pairsAmong(list, sockets);
    let flatRate = null;
    for (const phase of config.phases || []) {
      if (!pairs.length) break;
      if (phase.type === "rate" && phase.fractionOfFlat) {
        if (!flatRate) continue;
        phase.rate = Math.max(1, Math.round(flatRate * phase.fractionOfFlat));
      }
      log(`[${config.kind}] phase ${phase.name} ${phase.rate ? phase.rate + "/s" : ""}`);
      const outcome = await deliveryPhase(phase, pairs);
      outcome.connectedAtEnd = sockets.filter((s) => s.connected).length;
      outcome.disconnects = { ...disconnects };
      if (phase.type === "flat" && phase.via === "rest") flatRate = outcome.perSecond;
      result.phases.push(outcome);
    }
    result.disconnects = { ...disconnects };
    const beforeClose = procStats(config.serverPid);
    await closeAll(sockets);
    result.server.afterClose = procStats(config.serverPid);
    // Every socket left at once (as in a network blip): the server's CPU until it is idle again.
    const left = await waitCpuIdle(config.serverPid, 30);
    if (beforeClose && left) result.server.leaveCpuSeconds = +(left.cpuSeconds - beforeClose.cpuSeconds).toFixed(2);
    return result;
  },

  // Load: rounds of everyone connecting at once (a reconnect storm after the first), a burst
  // of sends, everyone leaving; the server's RSS with nobody connected after each round.
  async soak() {
    const list = users.slice(0, config.connect);
    const baseline = procStats(config.serverPid);
    const rounds = [];
    for (let round = 1; round <= config.rounds; round++) {
      const { sockets, summary } = await connectAll(list, config.connectConcurrency || 200, config.connectTimeoutS || 180);
      await waitQuiet(1500, 60);
      const connected = procStats(config.serverPid);
      const burst = await deliveryPhase(
        { name: `burst-${round}`, type: "flat", via: "rest", concurrency: config.concurrency || 32, durationS: config.burstS || 5 },
        pairsAmong(list, sockets),
      );
      await closeAll(sockets);
      await sleep(config.settleMs || 5000);
      const empty = procStats(config.serverPid);
      await sleep(config.laterMs || 0);  // the server gives memory back on its own schedule
      const later = procStats(config.serverPid);
      rounds.push({
        round, connect: summary, rssConnectedKb: connected && connected.rssKb,
        rssAfterLeavingKb: empty && empty.rssKb, rssLaterKb: later && later.rssKb,
        burst: { ok: burst.ok, errors: burst.errors, lost: burst.lost, perSecond: burst.perSecond, deliveryMs: burst.deliveryMs },
      });
      log(`[${config.kind}] soak round ${round}: ${summary.connected} connected, RSS ${connected && connected.rssKb} KB, after leaving ${empty && empty.rssKb} KB, later ${later && later.rssKb} KB`);
    }
    return { baselineRssKb: baseline && baseline.rssKb, rounds, disconnects: { ...disconnects } };
  },

  // S10: a restart storm. `connect` users connected (socket.io-client's default reconnection:
  // 1 s doubling to 5 s, randomization 0.5), `senders` of them sending `sendMessage` at `rate`
  // per second to as many others; the server gets SIGTERM (run.py starts it again on the same
  // port); every client reconnects and (ours) catches up with GET /api/sync?since=<cursor>.
  // Lost: acknowledged sends whose `_id` the receiver got neither live nor through sync.
  async storm() {
    const list = users.slice(0, config.connect);
    const clients = [];
    const openOne = (user) => new Promise((resolve) => {
      const options = { transports: ["websocket"], forceNew: true, timeout: 30000 };
      const client = { user, socket: null, received: new Set(), cursor: null, connects: 0, backAt: null, caughtUpAt: null, syncs: 0, syncErrors: 0, skipped: false, status: null };
      // With `syncStatus`, every (re)connect sends the cursor of the moment in the handshake.
      if (OURS) options.auth = config.syncStatus ? (cb) => cb({ token: user.token, since: client.cursor }) : { token: user.token };
      else options.query = { userId: user.id };
      const socket = io(config.base, options);
      client.socket = socket;
      socket.on("newMessage", (message) => { if (message && message._id) client.received.add(message._id); });
      socket.on("connect", () => {
        client.connects++;
        if (client.connects === 1) return resolve(client);
        client.backAt = now();
        const status = client.status;
        client.status = null;
        if (!OURS) client.caughtUpAt = client.backAt;
        else if (config.syncStatus && status && status.upToDate && status.since === client.cursor) {
          client.skipped = true;
          client.caughtUpAt = now();
        } else catchUp(client);
      });
      // socket.io-client hands over the events that came with the connect before "connect".
      socket.on("syncStatus", (status) => { client.status = status; });
      socket.once("connect_error", () => { if (client.connects === 0) resolve(client); });
    });
    async function sync(client) {
      for (let page = 0; page < 100; page++) {
        const path = client.cursor ? `/api/sync?since=${client.cursor}` : "/api/sync";
        const res = await request("GET", path, client.user.token);
        if (res.status !== 200) return false;
        const body = JSON.parse(res.body.toString());
        for (const m of body.messages || []) client.received.add(m._id);
        client.cursor = body.cursor;
        if (!body.hasMore) return true;
      }
      return false;
    }
    async function catchUp(client) {
      for (let attempt = 0; attempt < 20; attempt++) {
        if (await sync(client)) {
          client.syncs++;
          client.caughtUpAt = now();
          return;
        }
        client.syncErrors++;
        await sleep(500);
      }
    }
    // Connect everyone (bounded concurrency), then take each one's sync cursor.
    let next = 0;
    const connectStarted = now();
    await Promise.all(Array.from({ length: Math.min(config.connectConcurrency || 200, list.length) }, async () => {
      while (next < list.length) {
        const client = await openOne(list[next++]);
        clients.push(client);
      }
    }));
    const initial = { connected: clients.filter((c) => c.socket.connected).length, elapsedS: +((now() - connectStarted) / 1000).toFixed(2) };
    log(`[${config.kind}] storm: ${initial.connected} connected in ${initial.elapsedS} s`);
    if (OURS) {
      let i = 0;
      await Promise.all(Array.from({ length: 32 }, async () => { while (i < clients.length) await sync(clients[i++]); }));
    }
    // Senders: the first `senders` clients, each to a client of the second half.
    const senders = OURS ? clients.slice(0, config.senders || 0) : [];
    const half = Math.floor(clients.length / 2);
    const expected = new Map(); // receiver client → Set of acknowledged ids
    const sendLog = []; // {at, ms, ok}
    let sending = true;
    const ackedAt = new Map(); // id → when it was sent and acknowledged (for the lost ones)
    let sendErrors = 0;
    let sendSkipped = 0;
    async function sendLoop(client, k) {
      const receiver = clients[half + (k % Math.max(1, clients.length - half))];
      const gapMs = (1000 * (config.senders || 1)) / (config.rate || 10);
      await sleep(Math.random() * gapMs);
      while (sending) {
        if (!client.socket.connected || client.backAt === null && killedAt !== null) {
          sendSkipped++; // not back yet: a real client would queue it
        } else {
          const t0 = now();
          try {
            const ack = await client.socket.timeout(30000).emitWithAck("sendMessage", { to: receiver.user.id, message: `bench s${++sendCounter}`, clientMsgId: `${RUN}-s${sendCounter}` });
            if (ack && ack.ok) {
              if (!expected.has(receiver)) expected.set(receiver, new Set());
              expected.get(receiver).add(ack.message._id);
              ackedAt.set(ack.message._id, { sentAt: t0, ackedAt: now(), senderBackAt: client.backAt });
              sendLog.push({ at: t0, ms: now() - t0, sender: client });
            } else sendErrors++;
          } catch (error) { sendErrors++; }
        }
        await sleep(gapMs);
      }
    }
    let killedAt = null;
    const loops = senders.map((c, k) => sendLoop(c, k));
    await sleep((config.chatS || 5) * 1000);
    if (config.handoverFile) {
      // run.py starts a new process beside the server first, then lets us stop the old one.
      fs.writeFileSync(`${config.handoverFile}.want`, "");
      const until = Date.now() + 120000;
      while (!fs.existsSync(`${config.handoverFile}.ready`) && Date.now() < until) await sleep(100);
    }
    const serverBefore = procStats(config.serverPid);
    killedAt = now();
    const killedAtEpochMs = Date.now();
    process.kill(config.serverPid, "SIGTERM");
    log(`[${config.kind}] storm: SIGTERM at ${((killedAt - connectStarted) / 1000).toFixed(1)} s`);
    const deadline = killedAt + (config.stormTimeoutS || 180) * 1000;
    const back = () => clients.filter((c) => c.backAt !== null && c.socket.connected).length;
    const caught = () => clients.filter((c) => c.caughtUpAt !== null).length;
    while (now() < deadline && caught() < clients.length) await sleep(100);
    const stormEnd = now();
    const allBack = clients.every((c) => c.backAt !== null);
    const allCaught = clients.every((c) => c.caughtUpAt !== null);
    await sleep((config.afterS || 3) * 1000);
    sending = false;
    await Promise.all(loops);
    await sleep(3000); // the last live deliveries
    // Catch everyone up once more, for messages sent between their sync and the end.
    let lost = 0;
    let acked = 0;
    const lostSample = [];
    const rel = (t) => (t === null || t === undefined ? null : +((t - killedAt) / 1000).toFixed(3));
    for (const [receiver, ids] of expected) {
      acked += ids.size;
      for (const id of ids) {
        if (receiver.received.has(id)) continue;
        lost++;
        const a = ackedAt.get(id);
        if (lostSample.length < 10) {
          lostSample.push({ id, sent: rel(a.sentAt), acked: rel(a.ackedAt), senderBack: rel(a.senderBackAt), receiverBack: rel(receiver.backAt), receiverCaughtUp: rel(receiver.caughtUpAt), receiverConnects: receiver.connects });
        }
      }
    }
    const stormSends = sendLog.filter((s) => s.at >= killedAt && s.at <= stormEnd);
    const backTimes = clients.filter((c) => c.backAt !== null).map((c) => c.backAt - killedAt);
    const caughtTimes = clients.filter((c) => c.caughtUpAt !== null).map((c) => c.caughtUpAt - killedAt);
    const result = {
      initial,
      killedAtEpochMs,
      clients: clients.length,
      reconnected: back(),
      caughtUp: caught(),
      allBackS: allBack ? +(Math.max(...backTimes) / 1000).toFixed(2) : null,
      allCaughtUpS: allCaught ? +(Math.max(...caughtTimes) / 1000).toFixed(2) : null,
      backS: percentiles(backTimes.map((t) => t / 1000)),
      caughtUpS: percentiles(caughtTimes.map((t) => t / 1000)),
      syncErrors: clients.reduce((n, c) => n + c.syncErrors, 0),
      syncsSkipped: clients.filter((c) => c.skipped).length,
      sends: { acked, errors: sendErrors, skippedWhileAway: sendSkipped, lost, lostSample, senders: senders.length, rate: config.rate || null },
      stormSendMs: percentiles(stormSends.map((s) => s.ms)),
      serverBefore,
    };
    for (const c of clients) c.socket.close();
    return result;
  },

  // S8: a group whose members are all connected; `small` is a 2-member group for comparison.
  async group() {
    const members = config.members.map((i) => users[i]);
    const small = config.small.members.map((i) => users[i]);
    const before = procStats(config.serverPid);
    const { sockets, summary } = await connectAll([...members, ...small], config.connectConcurrency || 100, config.connectTimeoutS || 300);
    const quiet = await waitQuiet(config.quietMs || 1500, config.settleTimeoutS || 120);
    const settled = procStats(config.serverPid);
    const inGroup = new Set(config.members.map((i) => users[i].id));
    const memberSockets = sockets.filter((s) => inGroup.has(s.userId));
    const smallSockets = sockets.filter((s) => !inGroup.has(s.userId));
    const result = {
      connect: summary,
      presence: { frames: presence.frames, bytes: presence.bytes, settled: quiet },
      connectCpuSeconds: before && settled ? +(settled.cpuSeconds - before.cpuSeconds).toFixed(2) : null,
      members: memberSockets.length,
    };
    partial.connect = summary;
    const { MongoClient } = requireRef("mongodb");
    const client = new MongoClient(config.dbUri, { directConnection: true });
    await client.connect();
    try {
      const admin = client.db("admin");
      log(`[${config.kind}] S8 database operations per send`);
      result.dbOps = {
        small: await dbOpsPerSend(admin, smallSockets, config.small.id, config.opsSends),
        large: await dbOpsPerSend(admin, memberSockets, config.groupId, config.opsSends),
      };
    } finally {
      await client.close();
    }
    partial.dbOps = result.dbOps;
    log(`[${config.kind}] S8 fan-out, ${config.fanoutMessages} messages one after another`);
    result.fanout = await fanoutSequential(memberSockets, config.groupId, config.fanoutMessages);
    partial.fanout = result.fanout;
    const flatOptions = { senders: config.senders, durationS: config.durationS, graceS: config.graceS || 30 };
    log(`[${config.kind}] S8 ${config.senders} senders flat out`);
    result.flat = await fanoutFlat(memberSockets, config.groupId, { ...flatOptions, readers: 0 });
    partial.flat = result.flat;
    log(`[${config.kind}] S8 ${config.senders} senders flat out, ${config.readers} members marking read`);
    result.flatReading = await fanoutFlat(memberSockets, config.groupId, { ...flatOptions, readers: config.readers });
    result.connectedAtEnd = sockets.filter((s) => s.connected).length;
    result.disconnects = { ...disconnects };
    await closeAll(sockets);
    return result;
  },

  // S7: one conversation grows; at each checkpoint time sends and the latest-page read.
  async grow() {
    const [sender, receiver] = [users[config.pair[0]], users[config.pair[1]]];
    const pairs = [[sender, receiver]];
    const checkpoints = [];
    partial.checkpoints = checkpoints; // reported even if the watchdog stops the run
    let total = 0;
    for (const target of config.checkpoints) {
      const fill = target - total - config.sampleSends;
      if (fill > 0) await closedLoop({ pairs, concurrency: config.fillConcurrency || 8, count: fill, record: false });
      total += Math.max(fill, 0);
      const sends = [];
      for (let i = 0; i < config.sampleSends; i++) {
        const t0 = now();
        const res = await restSend(sender, receiver, `g${++sendCounter}`);
        if (res.status === 201) sends.push(now() - t0);
        total++;
      }
      const reads = [];
      let bytes = 0;
      let items = 0;
      for (let i = 0; i < config.sampleReads; i++) {
        const t0 = now();
        const res = await request("GET", `/api/messages/${receiver.id}`, sender.token);
        reads.push(now() - t0);
        bytes = res.body ? res.body.length : 0;
        try { items = JSON.parse(res.body.toString()).length; } catch (error) { items = -1; }
      }
      checkpoints.push({ messages: total, sendMs: percentiles(sends), readMs: percentiles(reads), readBytes: bytes, readItems: items });
      log(`[${config.kind}] grow ${total}`);
    }
    return { checkpoints };
  },
};

const watchdog = setTimeout(() => {
  console.log(JSON.stringify({ error: "watchdog timeout", ...partial }));
  process.exit(2);
}, (config.watchdogS || 900) * 1000);

scenarios[config.scenario]()
  .then((result) => {
    console.log(JSON.stringify(result));
    clearTimeout(watchdog);
    process.exit(0);
  })
  .catch((error) => {
    console.log(JSON.stringify({ error: String(error && error.stack || error) }));
    process.exit(1);
  });
