"""Image bytes → model input: routing, decoding and open_clip-equivalent preprocessing on tensors.

Two decode paths produce the same model input:

* **tensor path** — ``torchvision.io.decode_jpeg`` (batched nvJPEG on CUDA) followed by resize, crop and
  normalise on the device. Used for plain 3-channel JPEGs.
* **standard path** — PIL decode and the model's own open_clip preprocess (what clip_benchmark runs).
  Used for everything else (PNG, CMYK/YCCK or grayscale JPEG, lossless/arithmetic JPEG, truncated or
  unparsable bytes) and for images the GPU decoder rejects. An image PIL cannot decode either raises
  :class:`ImageDecodeError` naming its row.

:func:`route` decides from the header bytes alone, without decoding, so the decision is cheap and
testable. :func:`preprocess_tensor` mirrors ``open_clip.transform.image_transform(is_train=False)``
step by step (see the comments there); tests check agreement with the PIL path.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

import torch
import torchvision.transforms.functional as TF
from open_clip.transform import PreprocessCfg, center_crop_or_pad, image_transform_v2
from PIL import Image
from torchvision.io import ImageReadMode, decode_jpeg
from torchvision.transforms import InterpolationMode

# torchvision 0.29 deprecates its image codecs in favour of TorchCodec, which is not a dependency
# here; the codecs still work, so keep their warning out of every batch.
warnings.filterwarnings("ignore", message=r".*TorchCodec.*", category=DeprecationWarning)
warnings.filterwarnings("ignore", message=r".*[Dd]eprecat.*torchvision.io.*", category=UserWarning)

TENSOR = "jpeg"  # the route name of images the tensor path decodes


class ImageDecodeError(ValueError):
    """An image that neither the tensor path nor PIL can decode; names the row and the reason."""


@dataclass(frozen=True)
class PreprocessSpec:
    """A model's inference preprocessing (open_clip ``PreprocessCfg``), hashable so that models with
    identical preprocessing share one preprocessed batch."""

    size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bicubic"
    resize_mode: str = "shortest"
    fill_color: int = 0

    @classmethod
    def from_model(cls, model: torch.nn.Module) -> PreprocessSpec:
        """Read ``model.visual.preprocess_cfg`` (set by open_clip's factory from config + pretrained tag)."""
        cfg = getattr(getattr(model, "visual", None), "preprocess_cfg", None)
        if cfg is None:
            raise ValueError("model has no visual.preprocess_cfg; create it with open_clip.create_model*()")
        return cls.from_cfg(cfg)

    @classmethod
    def from_cfg(cls, cfg: dict[str, Any] | PreprocessCfg) -> PreprocessSpec:
        c = cfg if isinstance(cfg, PreprocessCfg) else PreprocessCfg(**{
            k: v for k, v in cfg.items() if k in PreprocessCfg.__dataclass_fields__})
        size = (c.size, c.size) if isinstance(c.size, int) else tuple(c.size)
        if c.resize_mode not in ("shortest", "longest", "squash"):
            raise ValueError(f"unsupported resize_mode {c.resize_mode!r}; "
                             "open_clip knows shortest|longest|squash")
        return cls(size=(int(size[0]), int(size[-1])), mean=_three(c.mean), std=_three(c.std),
                   interpolation=c.interpolation or "bicubic", resize_mode=c.resize_mode or "shortest",
                   fill_color=int(c.fill_color))

    def as_cfg(self) -> PreprocessCfg:
        return PreprocessCfg(size=self.size, mean=self.mean, std=self.std, interpolation=self.interpolation,
                             resize_mode=self.resize_mode, fill_color=self.fill_color)

    def standard_transform(self):
        """The exact open_clip inference transform (PIL in, normalised tensor out)."""
        return image_transform_v2(self.as_cfg(), is_train=False)


def _three(v: float | tuple[float, ...]) -> tuple[float, float, float]:
    return tuple(float(x) for x in ((v,) * 3 if isinstance(v, (int, float)) else v))


# ---------------------------------------------------------------------------------------------- routing

_SOF_BASELINE = {0xC0, 0xC1, 0xC2}  # baseline, extended sequential, progressive (Huffman)
# lossless, hierarchical and arithmetic-coded frames
_SOF_OTHER = {0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RSTn: markers without a length field


def route(data: bytes) -> str:
    """Which decoder an image goes to: :data:`TENSOR` for a plain 3-component Huffman JPEG, otherwise
    the reason it takes the standard PIL path (``png``, ``cmyk-jpeg``, ``grayscale-jpeg``,
    ``truncated-jpeg``, ``unsupported-jpeg``, ``not-jpeg``).

    Walks the JPEG marker segments up to the start of scan (a handful of header reads, no decoding):
    the frame header gives the component count, an Adobe APP14 segment with 4 components marks CMYK or
    YCCK. A JPEG not ending in the EOI marker is treated as truncated, which PIL refuses loudly where a
    GPU decoder might return a partly grey image.
    """
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:2] != b"\xff\xd8":
        return "not-jpeg"
    if data.rstrip(b"\x00")[-2:] != b"\xff\xd9":
        return "truncated-jpeg"
    pos, end = 2, len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return "unsupported-jpeg"
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        length = (data[pos + 2] << 8) | data[pos + 3]
        if marker in _SOF_BASELINE:
            if pos + 10 > end:
                return "truncated-jpeg"
            components = data[pos + 9]
            if components == 1:
                return "grayscale-jpeg"
            if components == 4:
                return "cmyk-jpeg"
            return TENSOR if components == 3 else "unsupported-jpeg"
        if marker in _SOF_OTHER:
            return "unsupported-jpeg"
        if marker == 0xDA:  # start of scan before any frame header
            return "unsupported-jpeg"
        pos += 2 + length
    return "truncated-jpeg"


# ------------------------------------------------------------------------------------- tensor preprocess

def _interp(spec: PreprocessSpec) -> InterpolationMode:
    # open_clip: 'bilinear' → BILINEAR, anything else ('bicubic', 'random') → BICUBIC
    return InterpolationMode.BILINEAR if spec.interpolation == "bilinear" else InterpolationMode.BICUBIC


def _keep_ratio_size(h: int, w: int, target: tuple[int, int], longest: float) -> list[int]:
    # open_clip.transform.ResizeKeepRatio.get_params without the random parts
    ratio_h, ratio_w = h / target[0], w / target[1]
    ratio = max(ratio_h, ratio_w) * longest + min(ratio_h, ratio_w) * (1.0 - longest)
    return [round(h / ratio), round(w / ratio)]


def resize_crop(images: torch.Tensor, spec: PreprocessSpec) -> torch.Tensor:
    """Geometric part of open_clip's inference transform on a uint8 batch ``(B, 3, H, W)`` of one size.

    torchvision's tensor ``resize`` with ``antialias=True`` implements PIL's antialiased bicubic/bilinear
    filters and rounds back to uint8 as PIL does, so the result matches ``Resize`` on a PIL image up to
    rounding.
    """
    h, w = images.shape[-2:]
    interp = _interp(spec)
    if spec.resize_mode == "squash":
        return TF.resize(images, list(spec.size), interpolation=interp, antialias=True)
    if spec.resize_mode == "longest":
        resized = TF.resize(images, _keep_ratio_size(h, w, spec.size, 1.0), interpolation=interp,
                            antialias=True)
        return center_crop_or_pad(resized, list(spec.size), fill=spec.fill_color)
    if spec.size[0] == spec.size[1]:
        resized = TF.resize(images, [spec.size[0]], interpolation=interp, antialias=True)
    else:  # open_clip builds ResizeKeepRatio(size) here, with its default (bicubic) interpolation
        resized = TF.resize(images, _keep_ratio_size(h, w, spec.size, 0.0),
                            interpolation=InterpolationMode.BICUBIC, antialias=True)
    return TF.center_crop(resized, list(spec.size))


def normalise(images: torch.Tensor, spec: PreprocessSpec) -> torch.Tensor:
    """uint8 ``(B, 3, h, w)`` → float32, as ``ToTensor`` (÷255) then ``Normalize(mean, std)``."""
    mean = torch.tensor(spec.mean, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, device=images.device).view(1, 3, 1, 1)
    return (images.float().div_(255.0) - mean).div_(std)


def preprocess_tensor(images: list[torch.Tensor], spec: PreprocessSpec) -> torch.Tensor:
    """Decoded uint8 RGB images ``(3, H_i, W_i)`` on one device → model input ``(B, 3, h, w)``.

    Images of equal size are resized in one call (the synthetic and most real batches are dominated by
    a few sizes), the rest one by one.
    """
    out = torch.empty((len(images), 3, *spec.size), dtype=torch.float32, device=images[0].device)
    by_shape: dict[tuple[int, int], list[int]] = {}
    for i, img in enumerate(images):
        by_shape.setdefault(tuple(img.shape[-2:]), []).append(i)
    for idx in by_shape.values():
        stack = torch.stack([images[i] for i in idx]) if len(idx) > 1 else images[idx[0]].unsqueeze(0)
        out[idx] = normalise(resize_crop(stack, spec), spec)
    return out


# ------------------------------------------------------------------------------------------ decoding

def bytes_tensor(data: bytes) -> torch.Tensor:
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


def decode_jpegs(datas: list[bytes], device: torch.device) -> list[torch.Tensor | None]:
    """Decode plain JPEGs to uint8 RGB on ``device`` (batched nvJPEG on CUDA, libjpeg on CPU).

    The batched call fails as a whole if one image is rejected; then each image is retried alone and
    the ones still rejected come back as ``None`` for the caller to send to the PIL path.
    """
    if not datas:
        return []
    tensors = [bytes_tensor(d) for d in datas]
    try:
        return list(decode_jpeg(tensors, mode=ImageReadMode.RGB, device=device))
    except RuntimeError:
        out: list[torch.Tensor | None] = []
        for t in tensors:
            try:
                out.append(decode_jpeg(t, mode=ImageReadMode.RGB, device=device))
            except RuntimeError:
                out.append(None)
        return out


def decode_pil(data: bytes, row: int) -> Image.Image:
    """Open and fully decode an image with PIL; raise :class:`ImageDecodeError` naming ``row`` if PIL
    cannot (PIL's own message says why)."""
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception as err:  # PIL raises many types (OSError, SyntaxError, ValueError, ...)
        raise ImageDecodeError(f"row {row}: image bytes cannot be decoded ({len(data)} bytes, "
                               f"starts {data[:8].hex()}): {type(err).__name__}: {err}") from err
    return img
