from kfp import dsl
from kfp.dsl import Dataset, Output

from components.common.images import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def text_corpus(corpus: Output[Dataset], source: str = "kit-guides", seed: int = 42):
    """Collect the guides (no download), clean them to plain paragraphs and split train/validation/test by seed."""
    from pathlib import Path

    from components.text_corpus.logic import build_corpus, save_corpus

    built = build_corpus(source, seed)
    save_corpus(built, Path(corpus.path))
    sizes = built.sizes()
    corpus.metadata.update(
        {"source": source, "files": len(built.sources), **{f"{k}_characters": v for k, v in sizes.items()}}
    )
    print(f"corpus from {len(built.sources)} files: " + ", ".join(f"{k} {v} characters" for k, v in sizes.items()))
