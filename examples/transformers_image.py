"""Ask a Zen VL model about an image with plain transformers.

python examples/transformers_image.py MODEL_DIR IMAGE ["question"]
e.g. python examples/transformers_image.py instruct/finetuned/tiny/merged photo.png "Who are you?"
"""

import sys

import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor


def main(model_dir: str, image: str, question: str = "Who are you, and what is in this image?") -> str:
    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype="auto", device_map="auto").eval()
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "image", "image": Image.open(image).convert("RGB")},
                {"type": "text", "text": question},
            ],
        }
    ]
    inputs = processor.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    ).to(model.device)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=128, do_sample=False)
    return processor.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


if __name__ == "__main__":
    print(main(*sys.argv[1:4]))
