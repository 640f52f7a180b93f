"""People and training: the screens. Parse, call rxdesk.people services and queries,
render; the services decide.

- ``people_home``: my record (credentials and expiry, training, CE toward renewal); with
  people.view, the lapse alerts and a link to the matrix;
- ``people_person``: a person's record (their own, or anyone's with people.view);
- ``people_matrix`` / ``people_matrix_csv``: staff × skills, current / due soon / lapsed;
- forms: ``people_settings``, ``people_skills``, ``people_skill_edit``, ``people_plan_new``,
  ``people_assess``, ``people_precept_new``, ``people_ce_new``; buttons:
  ``people_precept_sign``, ``people_ce_error``."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import Forbidden
from rxdesk.core.forms import FIELD_ERRORS, RxForm, bind_errors
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.people import queries, services
from rxdesk.people.models import Skill
from rxdesk.people.views import forms as f


def _works_here(actor: User) -> None:
    if not any(has(actor, cap) for cap in (Cap.PEOPLE_VIEW, Cap.PEOPLE_CE)):
        raise Forbidden("Your role does not include people and training.")


def _form_page(
    request: HttpRequest, form: RxForm, *, title: str, intro: str = "", may_save: bool = True
) -> HttpResponse:
    context = {"form": form, "title": title, "intro": intro, "may_save": may_save}
    return render(request, "people/form.html", context, status=form.http_status())


def _record_page(request: HttpRequest, actor: User, person: User, *, home: bool) -> HttpResponse:
    record = queries.person_record(actor=actor, person=person)
    context: dict[str, Any] = {
        "r": record,
        "home": home,
        "own": person.pk == actor.pk,
        "may_view": has(actor, Cap.PEOPLE_VIEW),
        "may_train": has(actor, Cap.PEOPLE_TRAIN),
        "may_setup": has(actor, Cap.PEOPLE_SETUP),
        "may_ce": has(actor, Cap.PEOPLE_CE),
        "error_form": f.CeErrorForm(prefix="err"),
    }
    if home and context["may_view"]:
        today = actor.site.today()
        context["alerts"] = [(a, a.words(today)) for a in queries.lapse_alerts(actor.site, today)]
    return render(request, "people/record.html", context)


@screen
def people_home(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    _works_here(actor)
    return _record_page(request, actor, actor, home=True)


@screen
def people_person(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    person = queries.person_get(actor=actor, user_id=pk)
    return _record_page(request, actor, person, home=False)


@screen
def people_matrix(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    return render(request, "people/matrix.html", {"m": queries.training_matrix(actor=actor)})


@screen
def people_matrix_csv(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    m = queries.training_matrix(actor=actor)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="training-matrix-{m.today:%Y%m%d}.csv"'
    out = csv.writer(response)
    out.writerow(["Name", "Role", *[s.name for s in m.skills]])
    for row in m.rows:
        cells = [
            ""
            if c is None
            else f"{c.state}{' ' + c.due_on.strftime('%m/%d/%Y') if c.due_on else ''}"
            for c in row.cells
        ]
        out.writerow([row.person.display_name, row.person.role_label, *cells])
    return response


@screen(methods=FORM)
def people_settings(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PEOPLE_VIEW)
    may_edit = has(actor, Cap.PEOPLE_SETUP)
    data = posted(request)
    if data is not None:
        require(actor, Cap.PEOPLE_SETUP)
    row = queries.settings_of(actor.site)
    form = f.SettingsForm(data, initial={n: getattr(row, n) for n in services.SETTINGS_FIELDS})
    if data is not None and form.is_valid():
        try:
            services.people_settings_set(actor=actor, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "Training and renewal settings saved.")
            return redirect("people_home")
    return _form_page(
        request,
        form,
        title="Training and renewal settings",
        intro="" if may_edit else "Only the pharmacist-in-charge changes these settings.",
        may_save=may_edit,
    )


@screen(methods=FORM)
def people_skills(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PEOPLE_VIEW)
    data = posted(request)
    if data is not None:
        require(actor, Cap.PEOPLE_SETUP)
    form = f.SkillForm(data)
    if data is not None and form.is_valid():
        try:
            row = services.skill_create(actor=actor, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{row.name} added to the skills.")
            return redirect("people_skills")
    context = {
        "form": form,
        "skills": list(queries.skills_list(actor=actor)),
        "may_setup": has(actor, Cap.PEOPLE_SETUP),
    }
    return render(request, "people/skills.html", context, status=form.http_status())


@screen(methods=FORM)
def people_skill_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PEOPLE_SETUP)
    skill = queries.skill_get(actor=actor, skill_id=pk)
    data = posted(request)
    initial = {
        "name": skill.name,
        "category": skill.category,
        "renew_months": skill.renew_months,
        "active": skill.active,
    }
    form = f.SkillEditForm(data, initial=initial)
    if data is not None and form.is_valid():
        try:
            services.skill_update(actor=actor, skill=skill, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{skill.name} saved.")
            return redirect("people_skills")
    return _form_page(request, form, title=f"Skill {skill.code}")


def _skills(actor: User) -> list[Skill]:
    return list(queries.skills_list(actor=actor, include_retired=False))


@screen(methods=FORM)
def people_plan_new(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PEOPLE_TRAIN)
    data = posted(request)
    people = queries.staff_of(actor.site)
    skills = _skills(actor)
    form = f.PlanForm(
        data, people=people, skills=skills, initial={"trainee": request.GET.get("person")}
    )
    if data is not None and form.is_valid():
        v = form.cleaned_data
        try:
            plan = services.training_plan_create(
                actor=actor,
                trainee=queries.staff_get(actor=actor, user_id=int(v["trainee"])),
                title=v["title"],
                started_on=v["started_on"],
                due_on=v["due_on"],
                skills=[s for s in skills if str(s.pk) in v["skills"]],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"Plan {plan.title} assigned.")
            return redirect("people_person", pk=plan.trainee_id)
    return _form_page(request, form, title="Assign a training plan")


@screen(methods=FORM)
def people_assess(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PEOPLE_TRAIN)
    data = posted(request)
    people = [p for p in queries.staff_of(actor.site) if p.pk != actor.pk]
    skills = _skills(actor)
    initial = {"person": request.GET.get("person"), "assessed_on": actor.site.today()}
    form = f.AssessmentForm(data, people=people, skills=skills, initial=initial)
    if data is not None and form.is_valid():
        v = form.cleaned_data
        try:
            row = services.competency_record(
                actor=actor,
                person=queries.staff_get(actor=actor, user_id=int(v["person"])),
                skill=queries.skill_get(actor=actor, skill_id=int(v["skill"])),
                assessed_on=v["assessed_on"],
                method=v["method"],
                result=v["result"],
                score=v["score"],
                notes=v["notes"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{row.skill.name}: {row.get_result_display()} recorded.")
            return redirect("people_person", pk=row.person_id)
    return _form_page(
        request, form, title="Record a competency assessment", intro="You are the assessor."
    )


@screen(methods=FORM)
def people_precept_new(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PEOPLE_CE)
    data = posted(request)
    people = queries.staff_of(actor.site)
    preceptors = [p for p in people if has(p, Cap.PEOPLE_TRAIN)]
    initial = {
        "on": actor.site.today(),
        "trainee": actor.pk if not has(actor, Cap.PEOPLE_TRAIN) else None,
    }
    form = f.PreceptingForm(data, people=people, preceptors=preceptors, initial=initial)
    if data is not None and form.is_valid():
        v = form.cleaned_data
        try:
            row = services.preceptorship_log(
                actor=actor,
                trainee=queries.staff_get(actor=actor, user_id=int(v["trainee"])),
                preceptor=queries.staff_get(actor=actor, user_id=int(v["preceptor"])),
                on=v["on"],
                hours=v["hours"],
                activities=v["activities"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{row.hours} h logged; the preceptor signs them.")
            return redirect("people_home")
    return _form_page(
        request,
        form,
        title="Log precepting hours",
        intro="The preceptor signs the hours afterwards.",
    )


@screen(methods=("POST",))
def people_precept_sign(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PEOPLE_TRAIN)
    entry = queries.precepting_get(actor=actor, entry_id=pk)
    services.preceptorship_sign(actor=actor, entry=entry)
    messages.success(request, f"{entry.hours} h on {entry.on:%m/%d/%Y} signed.")
    return redirect("people_home")


@screen(methods=FORM)
def people_ce_new(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PEOPLE_CE)
    data = posted(request)
    form = f.CeForm(data, initial={"completed_on": actor.site.today()})
    if data is not None and form.is_valid():
        try:
            row = services.ce_record(actor=actor, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{row.title}: {row.hours} h recorded.")
            return redirect("people_home")
    return _form_page(request, form, title="Record continuing education")


@screen(methods=("POST",))
def people_ce_error(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PEOPLE_CE)
    entry = queries.ce_get(actor=actor, ce_id=pk)
    form = f.CeErrorForm(request.POST, prefix="err")
    if form.is_valid():
        try:
            services.ce_delete(actor=actor, entry=entry, reason=form.cleaned_data["reason"])
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{entry.title} marked entered in error.")
            return redirect("people_person", pk=entry.person_id)
    return _form_page(request, form, title=f"Mark {entry.title} entered in error")


urlpatterns: list[URLPattern] = [
    path("", people_home, name="people_home"),
    path("staff/<int:pk>/", people_person, name="people_person"),
    path("matrix/", people_matrix, name="people_matrix"),
    path("matrix.csv", people_matrix_csv, name="people_matrix_csv"),
    path("settings/", people_settings, name="people_settings"),
    path("skills/", people_skills, name="people_skills"),
    path("skills/<int:pk>/", people_skill_edit, name="people_skill_edit"),
    path("plans/new/", people_plan_new, name="people_plan_new"),
    path("assess/", people_assess, name="people_assess"),
    path("precepting/new/", people_precept_new, name="people_precept_new"),
    path("precepting/<int:pk>/sign/", people_precept_sign, name="people_precept_sign"),
    path("ce/new/", people_ce_new, name="people_ce_new"),
    path("ce/<int:pk>/error/", people_ce_error, name="people_ce_error"),
]
