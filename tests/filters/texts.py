"""Literal documents shared by the filter tests."""

GOOD_LINES = [
    "The history of the river valley is closely tied to the farmers who settled there in the "
    "early nineteenth century. They cleared the forests, built stone walls along the fields, "
    "and planted orchards that still produce apples today.",
    "Over time the small villages grew into market towns with schools, churches and busy "
    "railway stations. Many families have lived in the same houses for generations, and they "
    "remember the floods that shaped the landscape.",
    "Visitors often come to walk the old towpath beside the canal, which was dug by hand with "
    "picks and shovels. Local guides explain how goods were carried to the coast on narrow "
    "boats pulled by horses.",
]
GOOD = "\n".join(GOOD_LINES)


def filler(k: int, start: int = 0) -> list[str]:
    """k distinct 8-letter pseudo-words (never repeated, no stop words)."""
    letters = "bcdfghjk"
    out = []
    for i in range(start, start + k):
        digits = []
        for _ in range(6):
            digits.append(letters[i % 8])
            i //= 8
        out.append("zq" + "".join(digits))
    return out


def reasons_of(stage, texts: list[str]) -> list:
    """Removal reason per text (None = kept), as the engine would see them."""
    import pyarrow as pa

    table = stage.annotate(pa.table({"id": [str(i) for i in range(len(texts))], "text": texts}))
    return stage.reasons(table).to_pylist()


def reason_of(stage, text: str):
    return reasons_of(stage, [text])[0]


def annotated(stage, text: str) -> dict:
    import pyarrow as pa

    return stage.annotate(pa.table({"text": [text]})).to_pylist()[0]

# Original prose in German and French (about 60 words each) for the per-language rules.
GERMAN_PROSE = (
    "Die Geschichte des Flusstals ist eng mit den Bauern verbunden, die sich dort im frühen "
    "neunzehnten Jahrhundert niederließen. Sie rodeten die Wälder, bauten Mauern aus Feldsteinen "
    "und pflanzten Obstgärten, die noch heute Äpfel tragen.\n"
    "Mit der Zeit wuchsen die kleinen Dörfer zu Marktstädten mit Schulen, Kirchen und belebten "
    "Bahnhöfen. Viele Familien wohnen seit Generationen in denselben Häusern und erinnern sich an "
    "die Hochwasser, welche die Landschaft geformt haben.")
FRENCH_PROSE = (
    "L'histoire de la vallée est étroitement liée aux agriculteurs qui s'y sont installés au début "
    "du dix-neuvième siècle. Ils ont défriché les forêts, construit des murs de pierre le long des "
    "champs et planté des vergers qui donnent encore des pommes aujourd'hui.\n"
    "Avec le temps, les petits villages sont devenus des bourgs avec leurs écoles, leurs églises et "
    "leurs gares animées. Beaucoup de familles habitent depuis des générations dans les mêmes "
    "maisons et se souviennent des crues qui ont façonné l’aspect du paysage.")
