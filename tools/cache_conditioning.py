#!/usr/bin/env python3
"""Fill editr1's conditioning cache for a dataset folder in Edit-R1's layout.

The text encoders of FLUX.1-Kontext (T5-XXL, CLIP-L) and Qwen-Image-Edit (Qwen2.5-VL) are frozen, so
editr1 reads their outputs from a cache instead of running them in Java. This script computes them
once per (prompt, source image) with diffusers' own pipeline code, on any machine with diffusers, and
writes what `editr1 train --model ... --data DATA` reads:

    DATA/conditioning/<model>/<key>.safetensors
        key = sha256(prompt.encode("utf-8") + b"\\n" + sha256(source image file bytes).hexdigest().encode())
        tensors (no batch dimension):
          flux-kontext:    prompt_embeds [L, 4096], pooled_prompt_embeds [768]
          qwen-image-edit: prompt_embeds [L, 3584], prompt_embeds_mask [L] (1 = token, 0 = padding)
        metadata: editr1.model, editr1.key, editr1.prompt, editr1.image_sha256 (checked at load)

Usage (the model folder is a diffusers checkpoint, e.g. black-forest-labs/FLUX.1-Kontext-dev):
    python tools/cache_conditioning.py --model flux-kontext --weights /models/FLUX.1-Kontext-dev \
        --data /data/edits [--max-sequence-length 512] [--device cuda] [--dtype bfloat16]
    python tools/cache_conditioning.py --model qwen-image-edit --weights /models/Qwen-Image-Edit-2509 \
        --data /data/edits [--resolution 512]

Existing entries are kept (the key changes when the prompt or the image does). Java never imports this.
"""
import argparse
import hashlib
import json
import os
import sys


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def key_of(prompt, image_sha):
    return hashlib.sha256(prompt.encode("utf-8") + b"\n" + image_sha.encode("ascii")).hexdigest()


def items(data):
    for split in ("train_metadata.jsonl", "test_metadata.jsonl"):
        path = os.path.join(data, split)
        if not os.path.isfile(path):
            sys.exit(f"{path} does not exist")
        with open(path, encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    o = json.loads(line)
                    prompt, image = o["prompt"].strip(), o["image"]
                except (ValueError, KeyError, AttributeError) as e:
                    print(f"{split}:{line_no}: skipped ({e})", file=sys.stderr)
                    continue
                full = os.path.realpath(os.path.join(data, image))
                if not full.startswith(os.path.realpath(data) + os.sep) or not os.path.isfile(full):
                    print(f"{split}:{line_no}: skipped (image {image!r} missing or outside the folder)", file=sys.stderr)
                    continue
                yield prompt, full


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, choices=["flux-kontext", "qwen-image-edit"])
    ap.add_argument("--weights", required=True, help="the diffusers model folder")
    ap.add_argument("--data", required=True, help="the dataset folder (Edit-R1 layout)")
    ap.add_argument("--out", help="cache folder (default DATA/conditioning/MODEL)")
    ap.add_argument("--max-sequence-length", type=int, default=512)
    ap.add_argument("--resolution", type=int, default=512, help="qwen-image-edit: the condition image's side")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    a = ap.parse_args()

    import torch
    from safetensors.torch import save_file

    dtype = getattr(torch, a.dtype)
    out = a.out or os.path.join(a.data, "conditioning", a.model)
    os.makedirs(out, exist_ok=True)

    if a.model == "flux-kontext":
        from diffusers import FluxKontextPipeline
        pipe = FluxKontextPipeline.from_pretrained(a.weights, transformer=None, vae=None, torch_dtype=dtype).to(a.device)

        def encode(prompt, image_path):
            with torch.no_grad():
                embeds, pooled, _ = pipe.encode_prompt(prompt=prompt, prompt_2=None, device=a.device,
                                                       num_images_per_prompt=1, max_sequence_length=a.max_sequence_length)
            return {"prompt_embeds": embeds[0], "pooled_prompt_embeds": pooled[0]}
    else:
        from PIL import Image
        from diffusers import QwenImageEditPlusPipeline
        pipe = QwenImageEditPlusPipeline.from_pretrained(a.weights, transformer=None, vae=None, torch_dtype=dtype).to(a.device)

        def encode(prompt, image_path):
            # as the 2509 pipeline builds them: the condition image resized to ~384² for the VL encoder
            image = Image.open(image_path).convert("RGB")
            w, h = image.size
            s = (384 * 384 / (w * h)) ** 0.5
            cond = image.resize((max(32, round(w * s / 32) * 32), max(32, round(h * s / 32) * 32)), Image.LANCZOS)
            with torch.no_grad():
                embeds, mask = pipe.encode_prompt(prompt=[prompt], image=[cond], device=a.device, num_images_per_prompt=1,
                                                  max_sequence_length=a.max_sequence_length)
            return {"prompt_embeds": embeds[0], "prompt_embeds_mask": mask[0].to(torch.float32)}

    written = kept = 0
    for prompt, path in items(a.data):
        image_sha = sha256_file(path)
        key = key_of(prompt, image_sha)
        file = os.path.join(out, key + ".safetensors")
        if os.path.isfile(file):
            kept += 1
            continue
        tensors = {k: v.detach().to("cpu").contiguous() for k, v in encode(prompt, path).items()}
        meta = {"format": "pt", "editr1.model": a.model, "editr1.key": key, "editr1.prompt": prompt, "editr1.image_sha256": image_sha}
        tmp = file + ".tmp"
        save_file(tensors, tmp, metadata=meta)
        os.replace(tmp, file)   # an entry appears whole or not at all
        written += 1
    print(f"{written} entries written, {kept} already there, in {out}")


if __name__ == "__main__":
    main()
