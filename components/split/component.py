from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from components.common.images import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def split(
    dataset: Input[Dataset],
    train_data: Output[Dataset],
    test_data: Output[Dataset],
    seed: int = 42,
    test_fraction: float = 0.2,
):
    """Seeded stratified split into train and test Datasets."""
    import pandas as pd

    from components.split.logic import stratified_split

    train, test = stratified_split(pd.read_csv(dataset.path), test_fraction=test_fraction, seed=seed)
    train.to_csv(train_data.path, index=False)
    test.to_csv(test_data.path, index=False)
    train_data.metadata["rows"] = len(train)
    test_data.metadata["rows"] = len(test)
    print(f"split: {len(train)} train rows, {len(test)} test rows (seed {seed})")
