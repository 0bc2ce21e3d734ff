from kfp import dsl
from kfp.dsl import Dataset, Metrics, Output

from components.common.images import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def rag_retrieval(chunks: Output[Dataset], metrics: Output[Metrics], source: str = "kit-guides", k: int = 3):
    """Chunk the guides, index them with TF-IDF and score retrieval on the kit's questions: recall@k and MRR
    against a random ranking."""
    import json
    from pathlib import Path

    from components.rag_retrieval.logic import chunk_guides, evaluate_retrieval, write_chunks

    found = chunk_guides(source)
    write_chunks(found, Path(chunks.path))
    result = evaluate_retrieval(found, k=k)
    for name, value in result.metrics().items():
        metrics.log_metric(name, round(value, 4) if isinstance(value, float) else value)
    with open(metrics.path, "w") as handle:
        json.dump(metrics.metadata, handle)
    print(
        f"retrieval over {result.chunks} chunks: recall@{k} {result.recall_at_k:.3f} "
        f"(random {result.random_recall_at_k:.3f}), MRR {result.mrr:.3f} (random {result.random_mrr:.3f})"
    )
