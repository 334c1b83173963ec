import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dynamoPython } from './dynamo-env.ts';

/** Words `w3`…`w999` are token ids 3…999 (doc §6); 0–2 are `<unk>`, `<s>`, `</s>`. */
export const TINY_VOCAB = 1000;
export const FIRST_WORD_TOKEN = 3;

/**
 * A local model directory the mocker and frontend accept without any download: a WordLevel
 * tokenizer (whitespace split, `wN` → N) built with the venv's `tokenizers`, and a tiny llama config.
 */
export function writeTinyModel(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const script = `
import sys
from tokenizers import Tokenizer, models, pre_tokenizers
vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
for i in range(${FIRST_WORD_TOKEN}, ${TINY_VOCAB}):
    vocab["w%d" % i] = i
tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
tok.pre_tokenizer = pre_tokenizers.Whitespace()
tok.save(sys.argv[1])
`;
  execFileSync(dynamoPython(), ['-c', script, join(dir, 'tokenizer.json')], { stdio: 'pipe' });
  const json = (name: string, value: unknown): void =>
    writeFileSync(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
  json('config.json', {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: TINY_VOCAB,
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    num_key_value_heads: 2,
    max_position_embeddings: 4096,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'float16',
  });
  json('tokenizer_config.json', {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    model_max_length: 4096,
    chat_template: "{% for m in messages %}{{ m['content'] }} {% endfor %}",
  });
  json('generation_config.json', { bos_token_id: 1, eos_token_id: 2 });
}
