import json

import pytest

from datamill.filters import fit_classifier

TOXICITY_ARGS = ["--text-field", "tweet", "--label-field", "class", "--positive", "0,1",
                 "--label-name", "toxic", "--normalize", "--bucket", "200000"]


@pytest.fixture(scope="session")
def davidson_model(shared_data, tmp_path_factory):
    """(model path, report) of the toxicity recipe's classifier trained on the Davidson tweets:
    hate (class 0) or offensive (class 1) = __label__toxic, neither (class 2) = __label__not_toxic."""
    out = tmp_path_factory.mktemp("toxicity") / "toxicity.bin"
    train = str(shared_data / "toxicity-davidson" / "labeled_data.csv")
    assert fit_classifier.main([train, "-o", str(out), *TOXICITY_ARGS]) == 0
    return str(out), json.loads(out.with_suffix(".json").read_text())


GOOD = ["the committee approved the budget for the new public library",
        "researchers published a careful study of river ecology and water quality",
        "the museum opened an exhibition about the history of printing",
        "students learned how photosynthesis turns light into chemical energy",
        "the orchestra performed a symphony to a quiet and attentive audience"]
SPAM = ["click here buy cheap pills now best price free shipping",
        "win money fast casino bonus click now limited offer",
        "hot deals click here cheap watches discount sale now",
        "free download crack keygen click here now fast",
        "buy followers cheap likes click now best offer"]


@pytest.fixture(scope="session")
def tiny_quality_model(tmp_path_factory):
    """A small fastText model: encyclopedic sentences (__label__hq) vs spam (__label__not_hq)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = tmp_path_factory.mktemp("quality")
    rows = [{"text": t, "label": "hq"} for t in GOOD * 20] + [{"text": t, "label": "cc"} for t in SPAM * 20]
    pq.write_table(pa.Table.from_pylist(rows), d / "train.parquet")
    out = d / "quality.bin"
    assert fit_classifier.main([str(d / "train.parquet"), "-o", str(out), "--positive", "hq",
                                "--dim", "16", "--bucket", "100000", "--epoch", "20",
                                "--valid-fraction", "0"]) == 0
    return str(out)
