"""The interaction knowledge base: the CSV format, the ONC seed files (re-derived from
../shared so they cannot drift), the import service and the cached index."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from rxdesk.core.errors import Forbidden, Invalid
from rxdesk.core.models import AuditEvent
from rxdesk.screening import kb
from rxdesk.screening.models import InteractionMember, InteractionRule, KnowledgeSource
from tests.conftest import audit_count, last_event

ONC_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "ddi-onc"
DATA = Path(kb.__file__).parent / "data"
HEADER = "kind,id,severity,object_label,precipitant_label,side,term,message,consequence,action\n"

SMALL = HEADER + (
    "# a comment line\n"
    "class,class:azole,,,,,Ketoconazole,,,\n"
    "class,azole,,,,,ITRACONAZOLE,,,\n"
    "rule,R1,major,Warfarin,Azoles,object,Warfarin Sodium,Bleeding risk.,INR rises.,Check INR.\n"
    "rule,R1,,,,precipitant,class:azole,,,\n"
    "rule,R1,major,Warfarin,Azoles,precipitant,fluconazole,Bleeding risk.,INR rises.,Check INR.\n"
    "\n"
    ",R2,minor,Iron,Levothyroxine,object,ferrous sulfate,Separate doses.,,\n"
    ",R2,,,,precipitant,levothyroxine,,,\n"
)


@pytest.fixture(autouse=True)
def _fresh_index():
    """The index is cached per process: no test may see another's rules."""
    kb.invalidate_index()
    yield
    kb.invalidate_index()


@pytest.fixture
def empty_kb(db):
    """No knowledge source at all (migrate seeds the ONC lists on a fresh database)."""
    KnowledgeSource.objects.all().delete()
    kb.invalidate_index()


def members(source_key: str) -> set[tuple[str, str, str]]:
    return set(
        InteractionMember.objects.filter(rule__source__key=source_key).values_list(
            "rule__rule_id", "side", "term"
        )
    )


# --- The format (pure) ------------------------------------------------------------------------


def test_it_reads_rules_classes_and_comments():
    parsed = kb.parse_kb(SMALL)
    assert parsed.classes == {"class:azole": ["ketoconazole", "itraconazole"]}
    r1, r2 = parsed.rules
    assert (r1.rule_id, r1.severity, r1.message, r1.consequence, r1.action) == (
        "R1",
        "major",
        "Bleeding risk.",
        "INR rises.",
        "Check INR.",
    )
    assert r1.members == {"object": ["warfarin"], "precipitant": ["class:azole", "fluconazole"]}
    assert r1.expanded(parsed.classes)["precipitant"] == [
        "class:azole",
        "ketoconazole",
        "itraconazole",
        "fluconazole",
    ]
    assert (r2.rule_id, r2.severity, r2.line) == ("R2", "minor", 9)


def test_it_round_trips_through_write_kb():
    parsed = kb.parse_kb(SMALL)
    again = kb.parse_kb(kb.write_kb(parsed.rules, parsed.classes))
    assert [(r.rule_id, r.severity, r.members) for r in again.rules] == [
        (r.rule_id, r.severity, r.members) for r in parsed.rules
    ]
    assert again.classes == parsed.classes


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("rule,R9,severe,A,B,object,x,Msg,,", "line 11: severity must be"),
        ("rule,R9,major,A,B,left,x,Msg,,", "line 11: side must be object or precipitant"),
        ("rule,,major,A,B,object,x,Msg,,", "line 11: id (the rule id) is empty"),
        ("rule,R9,major,A,B,object,,Msg,,", "line 11: term is empty"),
        ("rule,R9,major,A,B,object,x,,,", "line 11: rule R9 has no message"),
        ("rule,R1,minor,,,object,x,,,", "line 11: severity of rule R1 differs from line 5"),
        ("rule,R9,major,A,B,object,class:Bad Key!,M,,", "line 11: class key"),
        ("thing,R9,major,A,B,object,x,M,,", "line 11: kind must be rule or class"),
        ("class,azole,,,,,class:other,,,", "line 11: a class member must be an ingredient"),
    ],
)
def test_a_bad_line_is_named_by_its_number(line, expected):
    with pytest.raises(Invalid) as caught:
        kb.parse_kb(SMALL + line + "\n")
    assert expected in caught.value.message
    assert caught.value.errors[0]["field"] == "csv_text"


def test_a_rule_needs_both_sides():
    with pytest.raises(Invalid) as caught:
        kb.parse_kb(HEADER + "rule,R1,major,A,B,object,warfarin,Msg,,\n")
    assert caught.value.message.endswith("line 2: rule R1 has no precipitant member")


def test_a_file_without_the_columns_or_rules_is_refused():
    with pytest.raises(Invalid, match="the header lacks kind, side"):
        kb.parse_kb("id,severity,object_label,precipitant_label,term,message,consequence,action\n")
    with pytest.raises(Invalid, match="empty"):
        kb.parse_kb("")
    with pytest.raises(Invalid, match="no rule"):
        kb.parse_kb(HEADER + "class,azole,,,,,ketoconazole,,,\n")


def test_every_problem_is_listed_not_only_the_first():
    bad = HEADER + "rule,R1,nope,A,B,object,x,M,,\nrule,R2,major,A,B,up,x,M,,\n"
    with pytest.raises(Invalid) as caught:
        kb.parse_kb(bad)
    assert [e["message"][:7] for e in caught.value.errors] == ["line 2:", "line 3:"]


# --- The ONC seeds (re-derived from ../shared) ------------------------------------------------


@pytest.mark.skipif(not ONC_DIR.exists(), reason="../shared/data not present")
def test_the_shipped_seed_files_are_derived_from_the_onc_files():
    derived = kb.convert_onc(ONC_DIR)
    for seed in kb.SEEDS[:2]:  # the third (FDA labeling) is written by hand
        assert (DATA / seed.filename).read_text("utf-8") == derived[seed.filename], (
            f"{seed.filename} drifted: regenerate it with kb.convert_onc"
        )


@pytest.mark.skipif(not ONC_DIR.exists(), reason="../shared/data not present")
def test_the_converter_keeps_every_member_of_the_onc_files_but_the_named_slips():
    hp = kb.parse_onc_high_priority((ONC_DIR / "onc_high_priority_list.csv").read_text("utf-8"))
    shipped = {r.rule_id: r for r in kb.parse_kb((DATA / kb.SEEDS[0].filename).read_text()).rules}
    assert len(hp) == 15
    for onc in hp:
        terms = set(shipped[onc.number].members["object"]) | set(
            shipped[onc.number].members["precipitant"]
        )
        for raw in onc.objects + onc.precipitants:
            assert set(kb.corrected(raw)) <= terms, (onc.number, raw)
    # the paper's order, where the file swaps object and precipitant
    assert shipped["6"].members["precipitant"] == ["febuxostat"]
    assert shipped["30"].members == {"object": ["procarbazine"], "precipitant": ["tranylcypromine"]}
    assert shipped["23"].members["object"].count("nsaid") == 0


# --- The import service -----------------------------------------------------------------------


@pytest.mark.django_db
def test_it_imports_a_source_and_audits_it(pic):
    result = kb.kb_import(
        actor=pic, source_key="local", name="Local KB", csv_text=SMALL, citation="ours", version="1"
    )
    assert result == kb.ImportResult(
        source_key="local", created=True, rules=2, members=7, classes=1, replaced=0
    )
    source = KnowledgeSource.objects.get(key="local")
    assert (source.name, source.citation, source.version) == ("Local KB", "ours", "1")
    assert members("local") == {
        ("R1", "object", "warfarin"),
        ("R1", "precipitant", "class:azole"),
        ("R1", "precipitant", "ketoconazole"),
        ("R1", "precipitant", "itraconazole"),
        ("R1", "precipitant", "fluconazole"),
        ("R2", "object", "ferrous sulfate"),
        ("R2", "precipitant", "levothyroxine"),
    }
    event = last_event()
    assert event.action == "screening.kb.imported"
    assert event.actor == pic
    assert event.object_id == str(source.pk)


@pytest.mark.django_db
def test_a_new_import_replaces_the_source_rules_and_leaves_other_sources(pic):
    kb.kb_import(actor=pic, source_key="local", name="Local KB", csv_text=SMALL)
    kb.kb_import(actor=pic, source_key="other", name="Other", csv_text=SMALL)
    again = (
        HEADER + "rule,N1,moderate,A,B,object,digoxin,Msg,,\nrule,N1,,,,precipitant,amiodarone,,,\n"
    )
    result = kb.kb_import(actor=pic, source_key="local", name="Local KB v2", csv_text=again)
    assert (result.created, result.rules, result.replaced) == (False, 1, 2)
    assert members("local") == {("N1", "object", "digoxin"), ("N1", "precipitant", "amiodarone")}
    assert len(members("other")) == 7
    assert KnowledgeSource.objects.get(key="local").name == "Local KB v2"


@pytest.mark.django_db
def test_a_bad_line_refuses_the_whole_file_and_changes_nothing(pic):
    kb.kb_import(actor=pic, source_key="local", name="Local KB", csv_text=SMALL)
    before = (members("local"), audit_count(), KnowledgeSource.objects.get(key="local").imported_at)
    bad = HEADER + "rule,N1,major,A,B,object,digoxin,Msg,,\nrule,N1,,,,sideways,amiodarone,,,\n"
    with pytest.raises(Invalid, match="line 3: side must be object or precipitant"):
        kb.kb_import(actor=pic, source_key="local", name="Changed", csv_text=bad)
    after = (members("local"), audit_count(), KnowledgeSource.objects.get(key="local").imported_at)
    assert after == before
    assert KnowledgeSource.objects.get(key="local").name == "Local KB"


@pytest.mark.django_db
def test_bad_source_fields_are_named(empty_kb, pic):
    with pytest.raises(Invalid) as caught:
        kb.kb_import(actor=pic, source_key="no spaces!", name=" ", csv_text=SMALL)
    assert {e["field"] for e in caught.value.errors} == {"source_key", "name"}
    assert not KnowledgeSource.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["technician", "trainee", "pharmacist", "auditor"])
def test_a_role_without_catalog_import_cannot_import(empty_kb, persona, request):
    actor = request.getfixturevalue(persona)
    with pytest.raises(Forbidden):
        kb.kb_import(actor=actor, source_key="local", name="Local KB", csv_text=SMALL)
    assert not KnowledgeSource.objects.exists()
    assert not InteractionRule.objects.exists()
    assert not AuditEvent.objects.filter(action="screening.kb.imported").exists()


@pytest.mark.django_db
def test_the_admin_may_import(admin_user):
    assert kb.kb_import(actor=admin_user, source_key="x", name="X", csv_text=SMALL).rules == 2


@pytest.mark.django_db
def test_nobody_signed_in_cannot_import_from_the_web():
    with pytest.raises(Forbidden):
        kb.kb_import(actor=None, source_key="x", name="X", csv_text=SMALL)


# --- Seeding ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_seed_loads_the_onc_lists_and_the_labeling_pairs_once(empty_kb, site, cli_context):
    first = kb.kb_seed()
    assert [(r.source_key, r.rules, r.skipped) for r in first] == [
        ("onc-high-priority", 15, False),
        ("onc-non-interruptive", 33, False),
        ("rxdesk-labeling", 17, False),
    ]
    events = audit_count()
    second = kb.kb_seed()
    assert [r.skipped for r in second] == [True, True, True]
    assert audit_count() == events
    hp = KnowledgeSource.objects.get(key="onc-high-priority")
    assert hp.citation.startswith("Phansalkar S et al. JAMIA 2012")
    assert set(InteractionRule.objects.filter(source=hp).values_list("severity", flat=True)) == {
        "contraindicated",
        "major",
    }


@pytest.mark.django_db
def test_ensure_seeded_seeds_a_fresh_install_only(empty_kb, site):
    assert kb.ensure_seeded() is True  # from a web request: acts as the system
    assert KnowledgeSource.objects.count() == 3
    assert last_event().actor_name == "system"
    assert kb.ensure_seeded() is False
    KnowledgeSource.objects.all().update(active=False)
    assert kb.ensure_seeded() is False  # the pharmacy switched the seeds off: respected


@pytest.mark.django_db
def test_the_seed_command(empty_kb, site, capsys):
    call_command("screening_seed")
    assert "onc-high-priority: 15 rules" in capsys.readouterr().out
    call_command("screening_seed")
    assert "already loaded" in capsys.readouterr().out


@pytest.mark.django_db
def test_the_import_command(site, tmp_path, capsys):
    path = tmp_path / "kb.csv"
    path.write_text(SMALL, encoding="utf-8")
    call_command("screening_import", str(path), "--key", "local", "--name", "Local KB")
    assert "local: 2 rules" in capsys.readouterr().out
    assert KnowledgeSource.objects.get(key="local").name == "Local KB"


# --- The index --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_index_follows_imports_in_this_process(empty_kb, pic):
    assert kb.load_index().rules == 0
    kb.kb_import(actor=pic, source_key="local", name="Local KB", csv_text=SMALL, citation="c")
    index = kb.load_index()
    assert index.rules == 2
    assert kb.load_index() is index  # cached
    ((rule, side),) = index.get("ketoconazole")
    assert (rule.rule_id, side, rule.source) == ("R1", "precipitant", "Local KB — c")
    assert [s for _, s in index.get("class:azole")] == ["precipitant"]


@pytest.mark.django_db
def test_the_index_notices_another_process_within_the_recheck_time(empty_kb, pic, monkeypatch):
    kb.kb_import(actor=pic, source_key="local", name="Local KB", csv_text=SMALL)
    index = kb.load_index()
    # another process switches the source off (nothing bumps this process's counter)
    KnowledgeSource.objects.filter(key="local").update(active=False)
    assert kb.load_index() is index  # within RECHECK_SECONDS: no query, same index
    monkeypatch.setattr(kb, "RECHECK_SECONDS", 0.0)
    assert kb.load_index().rules == 0


@pytest.mark.django_db
def test_inactive_rules_are_left_out(empty_kb, pic):
    kb.kb_import(actor=pic, source_key="local", name="Local KB", csv_text=SMALL)
    InteractionRule.objects.filter(rule_id="R2").update(active=False)
    kb.invalidate_index()
    assert kb.load_index().get("levothyroxine") == ()
    assert kb.load_index().rules == 1


def test_the_readme_example_is_a_valid_file():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    section = readme.split("## Clinical screening", 1)[1]
    example = section.split("```csv\n", 1)[1].split("```", 1)[0]
    index = kb.index_from_csv(example, source_key="vendor", name="Vendor KB")
    assert [s for _, s in index.get("itraconazole")] == ["precipitant"]
    assert [s for _, s in index.get("warfarin")] == ["object"]
