from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from components.common.images import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def rag_retrieval(
    chunks: Output[Dataset], metrics: Output[Metrics], source: str = "kit-guides", k: int = 3, min_recall: float = 0.6
) -> bool:
    """Chunk the guides, index them with TF-IDF and score retrieval on the kit's questions: recall@k and MRR
    against a random ranking. Returns the index's gate: recall@k >= min_recall and both above random."""
    from pathlib import Path

    from components.common.metadata import log_metrics
    from components.rag_retrieval.logic import chunk_guides, evaluate_retrieval, write_chunks

    found = chunk_guides(source)
    write_chunks(found, Path(chunks.path))
    result = evaluate_retrieval(found, k=k)
    passed = result.passes(min_recall)
    log_metrics(metrics, {**result.metrics(), "index_passed": passed})
    print(
        f"retrieval over {result.chunks} chunks: recall@{k} {result.recall_at_k:.3f} "
        f"(random {result.random_recall_at_k:.3f}), MRR {result.mrr:.3f} (random {result.random_mrr:.3f}): "
        f"{'PASSED' if passed else 'did NOT pass'} the index gate (min recall {min_recall})"
    )
    return passed


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def rag_register(chunks: Input[Dataset], registry: str, k: int = 3, index_name: str = "guides-index"):
    """Register the index as the next version of ``index_name`` if it beats the champion index's MRR."""
    from pathlib import Path

    from components.rag_retrieval.logic import evaluate_retrieval, read_chunks, register_index

    evaluation = evaluate_retrieval(read_chunks(Path(chunks.path)), k=k)
    print(register_index(Path(registry), Path(chunks.path), evaluation, index_name).reason)
