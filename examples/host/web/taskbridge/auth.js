// Built from clients/ts by `npm run bundle:web -w clients/ts`. DO NOT EDIT.
/**
 * Credentials caches the token of a provider and refreshes it once for
 * every caller that saw the same refused token: ten streams cut by one
 * expiry ask the provider once.
 */
export class Credentials {
    #provider;
    #token;
    constructor(provider) {
        this.#provider = provider;
    }
    /** The current token, asking the provider the first time. */
    get() {
        this.#token ??= this.#ask(false);
        return this.#token;
    }
    /**
     * A fresh token after the server refused `refused`. Returns undefined when
     * no fresher token can come: no provider function, or it returned the
     * same token or none.
     */
    async refresh(refused) {
        if (typeof this.#provider !== 'function')
            return undefined;
        const before = this.get();
        const current = await before;
        // The first caller to see the refused token replaces it; the others
        // find the replacement and wait for it.
        if (current === refused && this.#token === before) {
            this.#token = this.#ask(true);
        }
        const fresh = await this.#token;
        return fresh !== undefined && fresh !== refused ? fresh : undefined;
    }
    async #ask(refresh) {
        const provider = this.#provider;
        if (provider === undefined)
            return undefined;
        if (typeof provider === 'string')
            return provider;
        try {
            return (await provider({ refresh })) || undefined;
        }
        catch (err) {
            this.#token = undefined; // ask again next time rather than keep the failure
            throw err;
        }
    }
}
