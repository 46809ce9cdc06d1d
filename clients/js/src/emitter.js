// A small event emitter that works the same in browsers and Node. A throwing listener is
// reported to console.error and never breaks the client's own processing.
export class Emitter {
  constructor() {
    this._listeners = new Map();
  }

  on(event, fn) {
    if (!this._listeners.has(event)) this._listeners.set(event, new Set());
    this._listeners.get(event).add(fn);
    return this;
  }

  off(event, fn) {
    this._listeners.get(event)?.delete(fn);
    return this;
  }

  once(event, fn) {
    const w = (...a) => {
      this.off(event, w);
      fn(...a);
    };
    return this.on(event, w);
  }

  /** Resolves with the next event's first argument (rejects after timeoutMs when given). */
  next(event, timeoutMs) {
    return new Promise((resolve, reject) => {
      let t;
      const fn = (v) => {
        clearTimeout(t);
        resolve(v);
      };
      this.once(event, fn);
      if (timeoutMs)
        t = setTimeout(() => {
          this.off(event, fn);
          reject(new Error(`no ${event} event within ${timeoutMs} ms`));
        }, timeoutMs);
    });
  }

  emit(event, ...args) {
    const set = this._listeners.get(event);
    if (!set) return false;
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (e) {
        console.error(`listener of ${event} threw`, e);
      }
    }
    return set.size > 0;
  }
}
