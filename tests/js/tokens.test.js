// The session's tokens (web/js/tokens.js): when the access token is refreshed, and how tabs share
// a rotating refresh token without ever sending a used one (which would end the session).
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { REFRESH_KEY, RefreshRefused, TokenKeeper, localLocks, refreshAt } from "../../web/js/tokens.js";

class MemoryStorage {
  #items = new Map();
  getItem(key) {
    return this.#items.has(key) ? this.#items.get(key) : null;
  }
  setItem(key, value) {
    this.#items.set(key, String(value));
  }
  removeItem(key) {
    this.#items.delete(key);
  }
}

/** Tabs of one browser: a BroadcastChannel that delivers to the others a moment later. */
function broadcastBus() {
  const members = [];
  return () => {
    const channel = {
      onmessage: null,
      postMessage(message) {
        for (const other of members) {
          if (other !== channel) setTimeout(() => other.onmessage?.({ data: structuredClone(message) }), 1);
        }
      },
    };
    members.push(channel);
    return channel;
  };
}

/** The server's rotation: each refresh token works once; a used one ends the session. */
function rotatingServer() {
  const server = { valid: new Set(["r0"]), used: new Set(), ended: false, calls: [], n: 0 };
  server.refresh = async (token) => {
    server.calls.push(token);
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (server.used.has(token)) server.ended = true;
    if (server.ended || !server.valid.has(token)) throw new RefreshRefused("refused");
    server.valid.delete(token);
    server.used.add(token);
    server.n += 1;
    const next = `r${server.n}`;
    server.valid.add(next);
    return { access_token: `a${server.n}`, refresh_token: next, expires_in: 900 };
  };
  return server;
}

function tab({ bus, locks, server, storage = new MemoryStorage(), ...rest }) {
  const ended = [];
  const keeper = new TokenKeeper({
    storage,
    channel: bus ? bus() : null,
    locks,
    requestRefresh: server.refresh,
    onEnded: (reason) => ended.push(reason),
    handoffMs: 20,
    // real timers; the long ones (a scheduled refresh is 14 minutes away) do not keep node running
    timers: {
      setTimeout: (fn, ms) => {
        const timer = setTimeout(fn, ms);
        if (ms > 1000) timer.unref();
        return timer;
      },
      clearTimeout: (id) => clearTimeout(id),
    },
    ...rest,
  });
  return { keeper, ended, storage };
}

const LOGIN = { access_token: "a0", refresh_token: "r0", expires_in: 900 };
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

describe("when the access token is refreshed", () => {
  it("a minute before a 15-minute token expires, a fifth of the life for short ones", () => {
    assert.equal(refreshAt(1_000_000, 900), 1_000_000 + 840_000);
    assert.equal(refreshAt(0, 60), 48_000);
    assert.equal(refreshAt(0, 0), 0);
  });

  it("a login schedules the refresh, and the timer refreshes and reschedules", async () => {
    let clock = 1_000_000;
    const timers = [];
    const server = rotatingServer();
    const { keeper } = tab({
      server,
      now: () => clock,
      timers: {
        setTimeout: (fn, ms) => timers.push({ fn, at: clock + ms }) - 1,
        clearTimeout: (id) => {
          if (timers[id]) timers[id].fn = null;
        },
      },
      handoffMs: 0,
    });
    keeper.start(LOGIN);
    assert.equal(keeper.scheduledAt(), 1_000_000 + 840_000);
    assert.equal(keeper.accessToken(), "a0");
    assert.ok(timers.some((t) => t.fn && t.at === 1_840_000), "a timer at the refresh time");
    const runDue = () => {
      for (const t of timers.filter((t) => t.fn && t.at <= clock)) {
        const fn = t.fn;
        t.fn = null;
        fn();
      }
    };
    clock = 1_840_000;
    runDue();
    await wait(10);
    runDue(); // the pause after a refresh, before the lock is given up, is a timer too
    await wait(10);
    assert.deepEqual(server.calls, ["r0"]);
    assert.equal(keeper.accessToken(), "a1");
    assert.equal(keeper.refreshToken(), "r1");
    assert.equal(keeper.scheduledAt(), 1_840_000 + 840_000);
  });

  it("an expired access token is not handed out; a request gets a fresh one first", async () => {
    let clock = 0;
    const server = rotatingServer();
    const { keeper } = tab({ server, now: () => clock });
    keeper.start(LOGIN);
    clock = 900_001;
    assert.equal(keeper.accessToken(), null);
    assert.equal(await keeper.freshAccessToken(), "a1");
    assert.deepEqual(server.calls, ["r0"]);
  });

  it("a 401 refreshes once; a second 401 for the new token does not refresh again", async () => {
    const server = rotatingServer();
    const { keeper } = tab({ server });
    keeper.start(LOGIN);
    assert.equal(await keeper.renewAfter401("a0"), true);
    assert.equal(keeper.accessToken(), "a1");
    // a request that used the old token fails after the pair changed: no second refresh
    assert.equal(await keeper.renewAfter401("a0"), true);
    assert.deepEqual(server.calls, ["r0"]);
  });

  it("a refused refresh ends the session and forgets the refresh token", async () => {
    const server = rotatingServer();
    server.ended = true;
    const { keeper, ended, storage } = tab({ server });
    keeper.start(LOGIN);
    assert.equal(await keeper.refresh(), false);
    assert.deepEqual(ended, ["refused"]);
    assert.equal(keeper.hasSession(), false);
    assert.equal(storage.getItem(REFRESH_KEY), null);
  });

  it("a network failure keeps the session and tries again later", async () => {
    const server = rotatingServer();
    server.refresh = async () => {
      throw new TypeError("Failed to fetch");
    };
    const { keeper, ended } = tab({ server });
    keeper.start(LOGIN);
    const before = Date.now();
    assert.equal(await keeper.refresh(), true); // the old access token still works
    assert.deepEqual(ended, []);
    assert.ok(keeper.scheduledAt() >= before + 15_000);
  });

  it("the refresh token survives a reload in this tab's storage, the access token does not", () => {
    const server = rotatingServer();
    const storage = new MemoryStorage();
    tab({ server, storage }).keeper.start(LOGIN);
    const reloaded = tab({ server, storage }).keeper;
    assert.equal(reloaded.refreshToken(), "r0");
    assert.equal(reloaded.accessToken(), null);
  });
});

describe("two tabs share one session", () => {
  it("refreshing at the same time sends each refresh token once, and both tabs end up with the new pair", async () => {
    const bus = broadcastBus();
    const locks = localLocks(); // one lock manager for the browser, as navigator.locks is
    const server = rotatingServer();
    const one = tab({ bus, locks, server });
    const two = tab({ bus, locks, server });
    one.keeper.start(LOGIN);
    await wait(10);
    assert.equal(two.keeper.refreshToken(), "r0", "the login reached the other tab");

    const results = await Promise.all([one.keeper.refresh(), two.keeper.refresh(), one.keeper.refresh()]);
    await wait(10);
    assert.deepEqual(results, [true, true, true]);
    assert.deepEqual(server.calls, ["r0"], "one refresh for both tabs");
    assert.equal(server.ended, false, "no used token was sent again");
    assert.equal(one.keeper.accessToken(), "a1");
    assert.equal(two.keeper.accessToken(), "a1");
    assert.equal(two.storage.getItem(REFRESH_KEY), "r1", "the other tab's reload would use the new one");
  });

  it("without the shared lock and hand-over, the second tab's refresh would end the session", async () => {
    // The failure the coordination prevents: each tab with its own lock and no channel.
    const server = rotatingServer();
    const one = tab({ server, locks: localLocks() });
    const two = tab({ server, locks: localLocks() });
    one.keeper.start(LOGIN);
    two.keeper.start(LOGIN);
    await Promise.all([one.keeper.refresh(), two.keeper.refresh()]);
    assert.equal(server.ended, true);
  });

  it("a new tab gets the pair from an open tab instead of refreshing", async () => {
    const bus = broadcastBus();
    const locks = localLocks();
    const server = rotatingServer();
    const one = tab({ bus, locks, server });
    one.keeper.start(LOGIN);
    const fresh = tab({ bus, locks, server });
    assert.equal(await fresh.keeper.join(50), true);
    assert.equal(fresh.keeper.accessToken(), "a0");
    assert.deepEqual(server.calls, []);
  });

  it("an open tab whose access token ran out still hands over the session; one refresh follows", async () => {
    const bus = broadcastBus();
    const locks = localLocks();
    const server = rotatingServer();
    let clock = 0;
    const one = tab({ bus, locks, server, now: () => clock });
    one.keeper.start(LOGIN);
    clock = 901_000; // the open tab slept past its access token
    const fresh = tab({ bus, locks, server, now: () => clock });
    assert.equal(await fresh.keeper.join(50), true);
    assert.equal(fresh.keeper.accessToken(), null);
    const [a, b] = await Promise.all([fresh.keeper.freshAccessToken(), one.keeper.freshAccessToken()]);
    await wait(10);
    assert.deepEqual([a, b], ["a1", "a1"]);
    assert.deepEqual(server.calls, ["r0"]);
  });

  it("alone, a new tab has no session (closing the last tab ended it)", async () => {
    const fresh = tab({ bus: broadcastBus(), server: rotatingServer() });
    assert.equal(await fresh.keeper.join(20), false);
  });

  it("logging out in one tab ends the session in the other", async () => {
    const bus = broadcastBus();
    const locks = localLocks();
    const server = rotatingServer();
    const one = tab({ bus, locks, server });
    const two = tab({ bus, locks, server });
    one.keeper.start(LOGIN);
    await wait(10);
    one.keeper.end("logout");
    await wait(10);
    assert.deepEqual(one.ended, ["logout"]);
    assert.deepEqual(two.ended, ["elsewhere"]);
    assert.equal(two.keeper.hasSession(), false);
    assert.equal(two.storage.getItem(REFRESH_KEY), null);
  });
});
