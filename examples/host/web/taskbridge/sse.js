// Built from clients/ts by `npm run bundle:web -w clients/ts`. DO NOT EDIT.
/**
 * Parses a text/event-stream body as the HTML standard describes it: lines
 * end in CRLF, LF or CR; `data:` lines join with LF; a blank line ends a
 * message; `:` starts a comment. `event:` and `retry:` are read and not
 * used (the TaskBridge stream sends no event names, and follow() keeps its
 * own backoff).
 */
export async function* parseSse(reader) {
    const decoder = new TextDecoder();
    let buffer = '';
    let data = [];
    let id;
    let pendingCR = false; // the previous chunk ended in CR: a following LF belongs to it
    for (;;) {
        const { value, done } = await reader.read();
        if (done)
            return; // a message without its blank line is incomplete: dropped, as the standard says
        let text = decoder.decode(value, { stream: true });
        if (pendingCR && text.startsWith('\n'))
            text = text.slice(1);
        buffer += text;
        pendingCR = buffer.endsWith('\r');
        let start = 0;
        for (;;) {
            const end = lineEnd(buffer, start);
            if (end < 0)
                break;
            const line = buffer.slice(start, end);
            start = end + (buffer[end] === '\r' && buffer[end + 1] === '\n' ? 2 : 1);
            if (line === '') {
                if (data.length > 0)
                    yield id === undefined ? { kind: 'message', data: data.join('\n') } : { kind: 'message', data: data.join('\n'), id };
                data = [];
                id = undefined;
                continue;
            }
            if (line.startsWith(':')) {
                yield { kind: 'comment' };
                continue;
            }
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            let content = colon < 0 ? '' : line.slice(colon + 1);
            if (content.startsWith(' '))
                content = content.slice(1);
            if (field === 'data')
                data.push(content);
            else if (field === 'id' && !content.includes('\0'))
                id = content;
        }
        buffer = buffer.slice(start);
    }
}
/** The index of the first CR or LF at or after start, or -1. */
function lineEnd(text, start) {
    for (let i = start; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c === 10 || c === 13)
            return i;
    }
    return -1;
}
