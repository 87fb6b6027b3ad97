// The session's tokens, and how the tabs of one browser share them.
//
// - The access token (15 minutes) lives in memory only; the refresh token (one session, 24 h) in
//   this tab's sessionStorage, so a reload keeps the login and closing the last tab ends it.
//   Nothing is in localStorage, which every later visit (and any script on the origin) could read.
// - Refresh tokens rotate and the server ends the session when a used one comes back, so two tabs
//   must never refresh with the same one. Refreshes run one at a time across tabs under a Web
//   Lock ("shop.refresh"); the tab that refreshed hands the new pair to the others over a
//   BroadcastChannel and holds the lock a moment longer (HANDOFF_MS) so they have it before
//   another refresh can start. A tab that got the lock after another tab's refresh sees the pair
//   has changed and does not refresh again.
// - A new tab (or a reload) first asks the open tabs for the current pair ("hello"); only when
//   none answers does it refresh with the token its own sessionStorage kept.
// - Logging out, or a refresh the server refuses, ends the session in every tab.
//
// No DOM here: the storage, channel, locks, clock and timers are passed in, so tests/js drive it.

export const REFRESH_KEY = "shop.refresh";
export const LOCK_NAME = "shop.refresh";
/** Refresh this long before the access token expires (or a fifth of its life when shorter). */
export const REFRESH_MARGIN_MS = 60_000;
export const HANDOFF_MS = 250;
export const HELLO_WAIT_MS = 150;
/** After a refresh failed for a network reason, try again this much later. */
export const RETRY_MS = 15_000;

/** When to refresh an access token that was received at `receivedAt` and lasts `expiresIn` s. */
export function refreshAt(receivedAt, expiresIn) {
  const life = Math.max(0, Number(expiresIn) || 0) * 1000;
  return receivedAt + life - Math.min(REFRESH_MARGIN_MS, life / 5);
}

/** Milliseconds from `now` until `when`, never negative. */
export function delayUntil(when, now) {
  return Math.max(0, when - now);
}

/** Runs `work` alone among callers of the same name; Web Locks when there, else in this tab only. */
export function localLocks() {
  const tails = new Map();
  return {
    request(name, work) {
      const before = tails.get(name) ?? Promise.resolve();
      const run = before.then(() => work());
      tails.set(name, run.catch(() => {}));
      return run;
    },
  };
}

export class RefreshRefused extends Error {}

export class TokenKeeper {
  #access = null;
  #expiresAt = 0;
  #refreshAt = 0;
  #refresh = null;
  #generation = 0;
  #timer = null;
  #inFlight = null;
  #helloWaiters = [];

  /**
   * @param {object} deps
   * @param {Storage} deps.storage - where the refresh token survives a reload (sessionStorage)
   * @param {{postMessage: Function, onmessage?: Function}|null} deps.channel - a BroadcastChannel
   * @param {{request: Function}} deps.locks - navigator.locks, or localLocks()
   * @param {(refreshToken: string) => Promise<object>} deps.requestRefresh - POST /auth/refresh;
   *   throws RefreshRefused when the server refused the token, anything else for a network error
   * @param {(reason: string) => void} [deps.onEnded] - the session ended (logout, refused, elsewhere)
   * @param {({remote: boolean}) => void} [deps.onChanged] - a new pair arrived (remote: from another tab)
   */
  constructor({
    storage,
    channel = null,
    locks = localLocks(),
    requestRefresh,
    onEnded = () => {},
    onChanged = () => {},
    now = () => Date.now(),
    timers = { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (t) => clearTimeout(t) },
    handoffMs = HANDOFF_MS,
  }) {
    Object.assign(this, { storage, channel, locks, requestRefresh, onEnded, onChanged, now, timers, handoffMs });
    this.#refresh = storage.getItem(REFRESH_KEY);
    if (channel) channel.onmessage = (event) => this.receive(event?.data ?? event);
  }

  /** The access token while it is valid, else null. */
  accessToken() {
    return this.#access && this.now() < this.#expiresAt ? this.#access : null;
  }

  refreshToken() {
    return this.#refresh;
  }

  hasSession() {
    return Boolean(this.#refresh);
  }

  /** When the scheduled refresh runs (ms since epoch), or null. */
  scheduledAt() {
    return this.#timer === null ? null : this.#refreshAt;
  }

  /** A login (or refresh) answer `{access_token, refresh_token, expires_in}`: keep and share it. */
  start(pair) {
    const receivedAt = this.now();
    this.#adopt(
      {
        access_token: pair.access_token,
        refresh_token: pair.refresh_token,
        expires_at: receivedAt + Number(pair.expires_in) * 1000,
        refresh_at: refreshAt(receivedAt, pair.expires_in),
      },
      { remote: false },
    );
    this.#post({ type: "tokens", ...this.#pair() });
  }

  #pair() {
    return {
      access_token: this.#access,
      refresh_token: this.#refresh,
      expires_at: this.#expiresAt,
      refresh_at: this.#refreshAt,
    };
  }

  #adopt(pair, { remote }) {
    this.#access = pair.access_token ?? null;
    this.#expiresAt = Number(pair.expires_at) || 0;
    this.#refreshAt = Number(pair.refresh_at) || this.#expiresAt;
    this.#refresh = pair.refresh_token;
    this.storage.setItem(REFRESH_KEY, pair.refresh_token);
    this.#generation += 1;
    this.#schedule(this.#refreshAt);
    this.onChanged({ remote });
  }

  #schedule(when) {
    if (this.#timer !== null) this.timers.clearTimeout(this.#timer);
    this.#timer = null;
    if (!this.#refresh) return;
    this.#refreshAt = when;
    this.#timer = this.timers.setTimeout(() => {
      this.#timer = null;
      this.refresh().catch(() => {});
    }, delayUntil(when, this.now()));
  }

  #post(message) {
    try {
      this.channel?.postMessage(message);
    } catch {
      // a closed channel: this tab goes on alone
    }
  }

  /** A message from another tab. */
  receive(message) {
    if (!message || typeof message !== "object") return;
    if (message.type === "tokens" && message.refresh_token) {
      if (message.refresh_token === this.#refresh && message.access_token === this.#access) return;
      this.#adopt(message, { remote: true });
      for (const resolve of this.#helloWaiters.splice(0)) resolve(true);
    } else if (message.type === "hello") {
      // The refresh token is what counts: an access token that ran out (a background tab's timers
      // are slowed down) is renewed by whichever tab needs it first, under the lock.
      if (this.#refresh) this.#post({ type: "tokens", ...this.#pair() });
    } else if (message.type === "ended") {
      if (this.#refresh) this.#clear("elsewhere");
    }
  }

  /**
   * At start: ask the open tabs for the current pair and wait a moment for it. True when this tab
   * has a session afterwards (from another tab, or the refresh token its own storage kept).
   */
  async join(waitMs = HELLO_WAIT_MS) {
    if (this.channel) {
      const answered = new Promise((resolve) => {
        this.#helloWaiters.push(resolve);
        this.timers.setTimeout(() => resolve(false), waitMs);
      });
      this.#post({ type: "hello" });
      await answered;
      this.#helloWaiters = [];
    }
    return this.hasSession();
  }

  /**
   * Get a new pair with the refresh token: once at a time in this tab, and under the lock across
   * tabs. Resolves true when a valid access token is there afterwards.
   */
  refresh() {
    if (!this.#refresh) return Promise.resolve(false);
    if (this.#inFlight) return this.#inFlight;
    const seen = this.#generation;
    this.#inFlight = this.locks
      .request(LOCK_NAME, async () => {
        // Another tab refreshed while this one waited for the lock: its pair is already here.
        if (this.#generation !== seen && this.accessToken()) return true;
        if (!this.#refresh) return false;
        const used = this.#refresh;
        let pair;
        try {
          pair = await this.requestRefresh(used);
        } catch (error) {
          if (error instanceof RefreshRefused) {
            // The session is over (expired, logged out, or the token was used twice): everywhere.
            if (this.#refresh === used) this.end("refused");
            return false;
          }
          this.#schedule(this.now() + RETRY_MS);
          return Boolean(this.accessToken());
        }
        this.start(pair);
        // Keep the lock until the other tabs have had the new pair delivered.
        await new Promise((resolve) => this.timers.setTimeout(resolve, this.handoffMs));
        return true;
      })
      .finally(() => {
        this.#inFlight = null;
      });
    return this.#inFlight;
  }

  /** An access token for a request: the current one, or a fresh one when it ran out. */
  async freshAccessToken() {
    const token = this.accessToken();
    if (token || !this.#refresh) return token;
    await this.refresh();
    return this.accessToken();
  }

  /**
   * The server refused `usedToken` with a 401: refresh once, unless the pair has changed since
   * (another refresh already ran). True when a new access token is there to retry with.
   */
  async renewAfter401(usedToken) {
    if (!this.#refresh) return false;
    if (this.accessToken() && this.accessToken() !== usedToken) return true;
    this.#access = null; // that one is no good: a refresh must not be skipped as "still valid"
    return this.refresh();
  }

  /** End the session in this tab and every other one. */
  end(reason = "logout") {
    this.#post({ type: "ended", reason });
    this.#clear(reason);
  }

  #clear(reason) {
    const had = Boolean(this.#refresh || this.#access);
    if (this.#timer !== null) this.timers.clearTimeout(this.#timer);
    this.#timer = null;
    this.#access = null;
    this.#refresh = null;
    this.#expiresAt = 0;
    this.#generation += 1;
    this.storage.removeItem(REFRESH_KEY);
    if (had) this.onEnded(reason);
  }
}
