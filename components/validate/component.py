from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from components.common.images import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def validate(dataset: Input[Dataset], statistics: Output[Artifact]):
    """Fail with a message naming the column if the data breaks the schema; else write its statistics."""
    import json

    import pandas as pd

    from components.validate.logic import validate_table

    try:
        table = pd.read_csv(dataset.path)
    except pd.errors.EmptyDataError:
        table = pd.DataFrame()
    stats = validate_table(table)
    with open(statistics.path, "w") as handle:
        json.dump(stats, handle, indent=2)
    statistics.metadata["rows"] = stats["rows"]
    print(f"validated {stats['rows']} rows: schema OK")
