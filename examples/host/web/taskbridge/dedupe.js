// Built from clients/ts by `npm run bundle:web -w clients/ts`. DO NOT EDIT.
/**
 * The most recent eventIds seen, compared as opaque strings: a bounded
 * window, so memory stays flat however long a task runs. A transport
 * switch or a resume that hands an event over twice is caught here.
 */
export class RecentIds {
    #size;
    #ring;
    #set = new Set();
    #next = 0;
    constructor(size = 256) {
        this.#size = Math.max(1, Math.floor(size));
        this.#ring = new Array(this.#size);
    }
    /** Records id; returns false when it was already in the window. */
    add(id) {
        if (this.#set.has(id))
            return false;
        const evicted = this.#ring[this.#next];
        if (evicted !== undefined)
            this.#set.delete(evicted);
        this.#ring[this.#next] = id;
        this.#set.add(id);
        this.#next = (this.#next + 1) % this.#size;
        return true;
    }
}
