// sse.js — a Server-Sent Events parser for a body read with fetch() (EventSource cannot send the
// Authorization header). Feed it decoded text as it arrives; it returns the complete events.

export class SseParser {
  constructor() {
    this.buffer = '';
    this.data = [];
    this.event = '';
    this.id = '';
  }

  // Text of the stream, in any pieces: returns [{event, data, id}] for each event the text completed.
  // Comment lines (":") and fields other than event, data and id are ignored, as the standard says.
  push(text) {
    this.buffer += text;
    const events = [];
    let newline;
    while ((newline = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const length = this.buffer.startsWith('\r\n', newline) ? 2 : 1;
      if (this.buffer[newline] === '\r' && newline + 1 === this.buffer.length) break; // a \n may follow
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + length);
      if (line === '') {
        if (this.data.length) events.push({ event: this.event || 'message', data: this.data.join('\n'), id: this.id });
        this.data = [];
        this.event = '';
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') this.data.push(value);
      else if (field === 'event') this.event = value;
      else if (field === 'id') this.id = value;
    }
    return events;
  }
}
