/**
 * An instant OpenAI-compatible upstream for benchmarks (loopback only). It answers chat
 * completions at once, echoing the placeholders it received (so Veil's restoration does real
 * work), plain or as 40 SSE chunks of ~3 characters.
 */
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 0);
const CREATED = 1_763_900_000;

function reply(body: any): string {
  const msgs = body?.messages ?? [];
  const last = msgs[msgs.length - 1];
  const text = typeof last?.content === 'string' ? last.content : '';
  const tokens = text.match(/\[[A-Z_]+_[0-9A-Z]{8}\]/g) ?? [];
  return `Sure. I have noted ${tokens.join(', ')} and will follow up shortly with the details you asked for.`;
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body: any = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {}
    if (req.url?.endsWith('/models')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'bench', object: 'model', created: CREATED, owned_by: 'bench' }] }));
      return;
    }
    const text = reply(body);
    if (body.stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // `x_bench_delay_ms` (an unknown field Veil passes through) paces the chunks like a real model
      const delay = Number(body.x_bench_delay_ms ?? 0);
      const base = { id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: CREATED, model: 'bench' };
      const frames = [`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\n`];
      for (let i = 0; i < text.length; i += 3) {
        frames.push(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: text.slice(i, i + 3) }, finish_reason: null }] })}\n\n`);
      }
      frames.push(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`, 'data: [DONE]\n\n');
      if (delay <= 0) {
        res.end(frames.join(''));
        return;
      }
      // first token after one delay, then one frame per delay
      let i = 0;
      const tick = () => {
        if (res.destroyed) return;
        res.write(frames[i++]!);
        if (i < frames.length) setTimeout(tick, delay);
        else res.end();
      };
      setTimeout(tick, delay);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'chatcmpl-bench',
        object: 'chat.completion',
        created: CREATED,
        model: 'bench',
        choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      }),
    );
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`READY ${typeof addr === 'object' && addr ? addr.port : port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
