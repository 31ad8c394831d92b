"""One cell of the PyTorch side of `make bench-compare`: the project's GPT-2-shaped model written in PyTorch, timed on
the same token file, batch and sequence length as the .NET side, printed as one JSON line.

    python3 gpt_cells.py --shape 10M --cell train --data tokens.bin --seconds 3 --threads 2

Cells: train (forward, backward, clip, AdamW), kd (a frozen mentor of the same shape under no_grad, then
(1-lambda)*CE + lambda*KL(mentor || student) at T, backward, AdamW), decode-b1 / decode-b16 (greedy with a KV cache,
prompt 32 + 64 new tokens).
"""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# Must match ComparisonShapes in bench/MentorKd.Benchmarks.
SHAPES = {"1M": (4, 4, 144, 128), "10M": (6, 6, 384, 256)}
VOCAB, BATCH, PROMPT, NEW_TOKENS = 512, 16, 32, 64
LAMBDA, TEMPERATURE = 0.5, 2.0


class Attention(nn.Module):
    def __init__(self, embedding, heads):
        super().__init__()
        self.heads = heads
        self.c_attn = nn.Linear(embedding, 3 * embedding)
        self.c_proj = nn.Linear(embedding, embedding)

    def forward(self, x, cache=None):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        if cache is not None:
            if cache[0] is not None:
                k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
            cache[0], cache[1] = k, v
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        if t > 1:  # a fresh sequence is causal; one new token sees everything cached
            causal = torch.ones(t, k.shape[2], dtype=torch.bool).tril(k.shape[2] - t)
            scores = scores.masked_fill(~causal, float("-inf"))
        y = (scores.softmax(-1) @ v).transpose(1, 2).contiguous().view(b, t, c)
        return self.c_proj(y)


class Block(nn.Module):
    def __init__(self, embedding, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(embedding)
        self.attn = Attention(embedding, heads)
        self.ln_2 = nn.LayerNorm(embedding)
        self.c_fc = nn.Linear(embedding, 4 * embedding)
        self.c_proj = nn.Linear(4 * embedding, embedding)

    def forward(self, x, cache=None):
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, layers, heads, embedding, context):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, embedding)
        self.wpe = nn.Embedding(context, embedding)
        self.h = nn.ModuleList(Block(embedding, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(embedding)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif ".ln_" in name or "ln_f" in name:
                nn.init.ones_(p)
            elif name.endswith("c_proj.weight"):  # residual projections scaled by 1/sqrt(2 * layers), as GPT-2 does
                nn.init.normal_(p, 0, 0.02 / math.sqrt(2 * layers))
            else:
                nn.init.normal_(p, 0, 0.02)

    def forward(self, ids, caches=None, past=0):
        x = self.wte(ids) + self.wpe(torch.arange(past, past + ids.shape[1]))
        for i, block in enumerate(self.h):
            x = block(x, None if caches is None else caches[i])
        return F.linear(self.ln_f(x), self.wte.weight)  # head tied to the token embedding


def optimizer_for(model):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}],
                             lr=1e-3, betas=(0.9, 0.95))


def measure(action, seconds, warmups=2, minimum_runs=3):
    for _ in range(warmups):
        action()
    start, units, runs = time.perf_counter(), 0, 0
    while runs < minimum_runs or time.perf_counter() - start < seconds:
        units += action()
        runs += 1
    elapsed = time.perf_counter() - start
    return units / elapsed, elapsed / runs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", choices=SHAPES, required=True)
    parser.add_argument("--cell", choices=["train", "kd", "decode-b1", "decode-b16"], required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    layers, heads, embedding, context = SHAPES[args.shape]
    tokens = torch.from_numpy(__import__("numpy").fromfile(args.data, dtype="<i4").astype("int64"))
    rows = tokens[: (len(tokens) // context) * context].view(-1, context)
    model = Gpt(layers, heads, embedding, context)
    state = {"next": 0}

    def next_batch():
        start = state["next"] % (rows.shape[0] - BATCH + 1)
        state["next"] += BATCH
        return rows[start:start + BATCH]

    if args.cell in ("train", "kd"):
        optimizer = optimizer_for(model)
        mentor = Gpt(layers, heads, embedding, context).eval() if args.cell == "kd" else None

        def step():
            batch = next_batch()
            logits = model(batch)[:, :-1].reshape(-1, VOCAB)
            loss = F.cross_entropy(logits, batch[:, 1:].reshape(-1))
            if mentor is not None:
                with torch.no_grad():
                    mentor_logits = mentor(batch)[:, :-1].reshape(-1, VOCAB)
                kl = F.kl_div(F.log_softmax(logits / TEMPERATURE, -1), F.log_softmax(mentor_logits / TEMPERATURE, -1),
                              reduction="batchmean", log_target=True)
                loss = (1 - LAMBDA) * loss + LAMBDA * kl
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            return batch.numel()

        model.train()
        tokens_per_second, seconds_per_run = measure(step, args.seconds)
    else:
        batch = 1 if args.cell == "decode-b1" else BATCH
        prompts = rows[:batch, :PROMPT]
        model.eval()

        def decode():
            with torch.inference_mode():
                caches = [[None, None] for _ in range(layers)]
                logits = model(prompts, caches)
                for i in range(NEW_TOKENS):
                    next_ids = logits[:, -1].argmax(-1, keepdim=True)
                    if i + 1 < NEW_TOKENS:
                        logits = model(next_ids, caches, past=PROMPT + i)
            return batch * NEW_TOKENS

        tokens_per_second, seconds_per_run = measure(decode, args.seconds, warmups=1)

    print(json.dumps({"tokens_per_second": tokens_per_second, "seconds_per_run": seconds_per_run,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "parameters": sum(p.numel() for p in model.parameters())}))


if __name__ == "__main__":
    main()
