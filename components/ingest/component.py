from kfp import dsl
from kfp.dsl import Dataset, Output

from components.common.images import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def ingest(source: str, dataset: Output[Dataset]):
    """Load the penguins table (or a CSV file) into a Dataset artifact."""
    from components.ingest.logic import load_source

    table = load_source(source)
    table.to_csv(dataset.path, index=False)
    dataset.metadata["rows"] = len(table)
    dataset.metadata["source"] = source
    print(f"ingested {len(table)} rows from {source}")
