import pyarrow as pa

from filters.length import LengthThresholds, length_filter


def _table(texts):
    return pa.table({"id": [str(i) for i in range(len(texts))], "text": texts})


def test_each_limit_names_the_documents_it_drops():
    texts = ["one two three", "", "a " * 20, "x" * 50, "ok ok ok ok"]
    limits = LengthThresholds(min_chars=1, max_chars=40, min_words=2, max_words=10)
    result = length_filter(_table(texts), limits)
    assert result.kept.column("text").to_pylist() == ["one two three", "ok ok ok ok"]
    reasons = dict(
        zip(
            result.rejected.column("id").to_pylist(),
            result.rejected.column("reason").to_pylist(),
            strict=True,
        )
    )
    assert reasons == {"1": "min_chars", "2": "max_words", "3": "min_words"}


def test_scores_are_columns_counted_independently():
    texts = ["héllo  wörld\n\tagain", "日本語のテキスト", "   "]
    result = length_filter(_table(texts), LengthThresholds())
    assert result.rejected.num_rows == 0
    assert result.kept.column("length_chars").to_pylist() == [len(t) for t in texts]
    assert result.kept.column("length_words").to_pylist() == [len(t.split()) for t in texts]
