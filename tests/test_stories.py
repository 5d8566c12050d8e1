"""Stories as tests (issue 12): short accounts of a partner pulling away, each with the reason or
notice an expert would expect.

Every story lists the facts a person could report. (a) With all of them entered (every other
question left unanswered, i.e. "unsure"), the expected cause is the most probable relationship
cause, or the expected notice is raised. (b) In an adaptive session that answers each question
from the story (and "unsure" to anything the story does not say), the same holds after the
screens and at most 8 further questions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from distancing_bn import load_model

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "distancing.yaml"
MAX_AFTER_SCREENS = 8

SAFETY_NONE = {
    q: "no"
    for q in (
        "checks_phone",
        "controls_money",
        "isolates_you",
        "insults_you",
        "threatens_harm",
        "afraid_of_partner",
        "sexual_pressure",
        "partner_jealous",
        "escalating",
    )
}
MOOD_NONE = {q: "no" for q in ("low_mood", "lost_interest", "grief_lingers", "heavy_use")}
SCREENS_CLEAR = {**SAFETY_NONE, **MOOD_NONE, "self_harm_talk": "no"}
LIFE_NONE = {
    q: "no"
    for q in (
        "longer_hours",
        "money_worries",
        "caring_for_relative",
        "more_childcare",
        "new_studies",
        "own_health_problem",
        "legal_trouble",
        "bereavement",
    )
}
SAID_NONE = {
    q: "no"
    for q in (
        "asked_for_time",
        "partner_feels_unsupported",
        "partner_complains_missing",
        "wants_more_intimacy",
        "fears_being_hurt",
        "feels_trapped",
        "misses_single_life",
        "idealises_ex",
    )
}
# what a person says about the common closeness signs when the story is about something else
CALM = {
    "pulls_back_after_closeness": "never",
    "emotionally_closed": "never",
    "declines_help": "never",
    "partner_more_critical": "no",
    "hot_and_cold": "never",
    "arguments_unresolved": "never",
    "vague_about_future": "never",
}


@dataclass(frozen=True)
class Story:
    """A short account, its facts (question -> answer), and what should come out."""

    name: str
    text: str
    facts: dict[str, str]
    cause: str | None = None  # expected top relationship cause
    notice: str | None = None  # expected notice id
    nothing: bool = False  # no relationship cause should reach 0.5
    screens: dict[str, str] = field(default_factory=lambda: dict(SCREENS_CLEAR))

    @property
    def answers(self) -> dict[str, str]:
        return {**self.screens, **self.facts}


STORIES = [
    Story(
        "avoidant_always_at_arms_length",
        "Alex has kept some distance from the start. Offers of help are waved away, closeness on a "
        "weekend is followed by a quiet week, and 'I'm fine' ends most conversations about feelings.",
        {
            "always_like_this": "always",
            "duration": "over_a_year",
            "onset": "gradual",
            "declines_help": "often",
            "pulls_back_after_closeness": "often",
            "says_im_fine": "often",
            "fixes_not_comfort": "often",
            "shuts_down": "sometimes",
            "misses_single_life": "yes",
            "less_contact": "a_little",
            "hurt_before": "no",
        },
        cause="avoidant_attachment",
    ),
    Story(
        "avoidant_values_independence",
        "Jo likes doing everything alone, talks about the freedom of single life, and has done this "
        "in earlier relationships too; they were never one for talking about feelings.",
        {
            "always_like_this": "always",
            "declines_help": "often",
            "misses_single_life": "yes",
            "idealises_ex": "yes",
            "past_pattern": "more_than_once",
            "fixes_not_comfort": "often",
            "tenses_at_touch": "sometimes",
            "duration": "over_a_year",
            "fears_being_hurt": "no",
            "puts_self_down": "never",
        },
        cause="avoidant_attachment",
    ),
    Story(
        "fear_after_betrayal",
        "Rae was cheated on before we met. Every time we get closer, Rae goes quiet, says they are "
        "scared of being hurt again, and seems to expect me to leave.",
        {
            "hurt_before": "yes",
            "fears_being_hurt": "yes",
            "expects_rejection": "yes",
            "pulls_back_after_closeness": "often",
            "avoids_personal_topics": "often",
            "puts_self_down": "often",
            "declines_help": "never",
            "misses_single_life": "no",
        },
        cause="fear_of_intimacy",
    ),
    Story(
        "fear_of_commitment",
        "When we talk about moving in, Kim changes the subject, says they feel tied down, and doubts "
        "they are good enough for me.",
        {
            **CALM,
            "emotionally_closed": "sometimes",
            "hot_and_cold": "sometimes",
            "vague_about_future": "often",
            "feels_trapped": "yes",
            "fears_being_hurt": "yes",
            "expects_rejection": "yes",
            "puts_self_down": "often",
            "pulls_back_after_closeness": "sometimes",
            "secretive_phone": "no",
            "mentions_someone": "no",
        },
        cause="fear_of_intimacy",
    ),
    Story(
        "unavailable_no_words",
        "Chris says lovely things but rarely follows through, is warm one day and cold the next, and "
        "cannot say what they feel; my feelings get brushed off.",
        {
            "hard_to_name_feelings": "a_lot",
            "words_not_actions": "yes",
            "hot_and_cold": "often",
            "dismisses_your_feelings": "often",
            "says_im_fine": "often",
            "emotionally_closed": "often",
            "secretive_phone": "no",
            "unexplained_absences": "no",
            "declines_help": "never",
        },
        cause="emotional_unavailability",
    ),
    Story(
        "unavailable_mixed_signals",
        "Pat is loving in words, distant in deeds, and offers solutions when I want comfort; I never "
        "really know what is going on inside.",
        {
            "words_not_actions": "yes",
            "hot_and_cold": "often",
            "hard_to_name_feelings": "somewhat",
            "dismisses_your_feelings": "sometimes",
            "you_feel_unheard": "often",
            "emotionally_closed": "often",
            "mentions_someone": "no",
            "secretive_phone": "no",
            "misses_single_life": "no",
        },
        cause="emotional_unavailability",
    ),
    Story(
        "stress_work_and_money",
        "Since the restructuring, Dana works late, worries about the job and the mortgage, and is "
        "short with everyone. It started suddenly a few weeks ago.",
        {
            **CALM,
            "emotionally_closed": "sometimes",
            "arguments_unresolved": "sometimes",
            "less_connected": "somewhat",
            "longer_hours": "yes",
            "money_worries": "yes",
            "job_insecurity": "yes",
            "anxious": "sometimes",
            "stress_talk_short": "somewhat",
            "onset": "sudden",
            "duration": "weeks",
            "stress_eased": "still_going",
            "always_like_this": "new",
            "rarely_alone_together": "yes",
            "new_role": "no",
        },
        cause="external_stressors",
    ),
    Story(
        "stress_caring_duties",
        "Lee's mother fell ill and Lee now looks after her and our toddler most evenings; when a "
        "quiet month came, Lee was close again.",
        {
            **CALM,
            "less_connected": "somewhat",
            "caring_for_relative": "yes",
            "more_childcare": "yes",
            "rarely_alone_together": "yes",
            "stress_eased": "came_back",
            "onset": "sudden",
            "always_like_this": "new",
            "less_contact": "a_little",
        },
        cause="external_stressors",
    ),
    Story(
        "grief_after_a_death",
        "Since Sam's father died last spring, Sam has been low most days, dropped the things we did "
        "together and says everything is fine.",
        {
            "bereavement": "yes",
            "onset": "sudden",
            "always_like_this": "new",
            "says_im_fine": "often",
            "shared_activities_gone": "yes",
            "avoids_personal_topics": "sometimes",
        },
        cause="personal_struggles",
        notice="professional_help_mood",
        screens={**SCREENS_CLEAR, "grief_lingers": "yes", "low_mood": "yes"},
    ),
    Story(
        "setback_and_identity",
        "After the business failed, Morgan keeps asking what the point of it all is and puts "
        "themselves down; it came on suddenly.",
        {
            **CALM,
            "emotionally_closed": "sometimes",
            "declines_help": "sometimes",
            "less_connected": "somewhat",
            "setback": "yes",
            "questioning_life": "a_lot",
            "puts_self_down": "often",
            "anxious": "sometimes",
            "onset": "sudden",
            "always_like_this": "new",
            "secretive_phone": "no",
        },
        cause="personal_struggles",
    ),
    Story(
        "attraction_fading_slowly",
        "Over the last year or two, Ash seems less drawn to me; we have little to talk about and "
        "evenings together feel flat. No sign of anyone else.",
        {
            **CALM,
            "emotionally_closed": "sometimes",
            "partner_more_critical": "a_little",
            "vague_about_future": "sometimes",
            "less_connected": "very_much",
            "less_physically_drawn": "a_lot",
            "time_together_flat": "very",
            "shared_activities_gone": "yes",
            "less_affection": "a_lot",
            "onset": "gradual",
            "duration": "over_a_year",
            "always_like_this": "new",
            "secretive_phone": "no",
            "mentions_someone": "no",
            "unexplained_absences": "no",
            "told_feelings_elsewhere": "no",
            "hard_to_name_feelings": "no",
        },
        cause="loss_of_attraction",
    ),
    Story(
        "growing_apart",
        "We used to share everything. Now our talk is about bills, time together is dull, and Robin "
        "has mentioned my habits bother them. It crept up on us.",
        {
            **CALM,
            **LIFE_NONE,
            **SAID_NONE,
            "vague_about_future": "sometimes",
            "time_together_flat": "very",
            "surface_talk": "mostly",
            "less_connected": "very_much",
            "shared_activities_gone": "yes",
            "remarks_on_looks": "yes",
            "onset": "gradual",
            "always_like_this": "new",
            "secretive_phone": "no",
            "mentions_someone": "no",
            "defensive": "never",
        },
        cause="loss_of_attraction",
    ),
    Story(
        "someone_else_secret_phone",
        "Out of nowhere Taylor guards the phone, has evenings that are not explained and keeps "
        "mentioning a new colleague; questions are met with irritation.",
        {
            **CALM,
            "emotionally_closed": "sometimes",
            "hot_and_cold": "often",
            "vague_about_future": "often",
            "less_connected": "very_much",
            "secretive_phone": "yes",
            "unexplained_absences": "yes",
            "mentions_someone": "yes",
            "defensive": "often",
            "onset": "sudden",
            "always_like_this": "new",
            "less_contact": "a_lot",
        },
        cause="another_person",
    ),
    Story(
        "someone_else_told_me",
        "Casey admitted to having feelings for a friend, started going to the gym a lot and has "
        "become much less affectionate.",
        {
            **CALM,
            "emotionally_closed": "sometimes",
            "hot_and_cold": "sometimes",
            "vague_about_future": "often",
            "less_connected": "very_much",
            "told_feelings_elsewhere": "yes",
            "mentions_someone": "yes",
            "fitness_regime": "yes",
            "less_affection": "a_lot",
            "always_like_this": "new",
        },
        cause="another_person",
    ),
    Story(
        "talks_keep_failing",
        "Every talk becomes a row: Drew gets defensive, goes silent, and nothing gets resolved. We are "
        "both more critical than we used to be.",
        {
            "defensive": "often",
            "shuts_down": "often",
            "arguments_unresolved": "often",
            "you_feel_unheard": "often",
            "partner_more_critical": "a_lot",
            "you_more_critical": "a_little",
            "secretive_phone": "no",
            "always_like_this": "new",
        },
        cause="communication_breakdown",
    ),
    Story(
        "rows_without_end",
        "For over a year we have had the same argument, often started by me; Quinn gets defensive and "
        "it never ends with an answer.",
        {
            "arguments_unresolved": "often",
            "you_start_arguments": "yes",
            "defensive": "often",
            "shuts_down": "sometimes",
            "partner_more_critical": "a_little",
            "duration": "over_a_year",
            "mentions_someone": "no",
        },
        cause="communication_breakdown",
    ),
    Story(
        "needs_not_met_time",
        "Jamie has asked again and again for time just for us, says they feel unsupported, and misses "
        "physical closeness.",
        {
            **CALM,
            "arguments_unresolved": "sometimes",
            "names_a_pressure": "no",
            "worn_out": "no",
            "less_affection": "a_little",
            "time_together_flat": "no",
            "less_connected": "somewhat",
            "asked_for_time": "yes",
            "partner_feels_unsupported": "yes",
            "partner_complains_missing": "yes",
            "wants_more_intimacy": "yes",
            "secretive_phone": "no",
        },
        cause="unmet_needs",
    ),
    Story(
        "needs_not_met_support",
        "Avery says something is missing, that I do not listen when they need me, and has become a "
        "little more critical.",
        {
            **CALM,
            "arguments_unresolved": "sometimes",
            "less_connected": "somewhat",
            "partner_feels_unsupported": "yes",
            "partner_complains_missing": "yes",
            "partner_more_critical": "a_little",
            "asked_for_time": "yes",
            "defensive": "never",
            "mentions_someone": "no",
        },
        cause="unmet_needs",
    ),
    Story(
        "new_job_new_focus",
        "Since the promotion, Riley travels most weeks and spends evenings on work goals; they seem "
        "energised, not stressed.",
        {
            **CALM,
            **LIFE_NONE,
            **SAID_NONE,
            "longer_hours": "yes",
            "less_connected": "somewhat",
            "new_role": "yes",
            "work_travel": "yes",
            "free_time_on_goal": "most",
            "anxious": "rarely",
            "money_worries": "no",
            "stress_talk_short": "no",
            "always_like_this": "new",
            "secretive_phone": "no",
        },
        cause="change_in_priorities",
    ),
    Story(
        "study_and_training",
        "Sky started a degree and trains for a marathon; most free time goes to that and we no longer "
        "do our weekend walks.",
        {
            **CALM,
            "less_connected": "somewhat",
            "new_studies": "yes",
            "fitness_regime": "yes",
            "free_time_on_goal": "most",
            "shared_activities_gone": "yes",
            "anxious": "rarely",
            "secretive_phone": "no",
            "mentions_someone": "no",
        },
        cause="change_in_priorities",
    ),
    Story(
        "drinking_more",
        "Frankie drinks most nights now, hides bottles, missed work twice, and swings between warm and snappy.",
        {
            "use_causes_problems": "yes",
            "hides_use": "yes",
            "hot_and_cold": "often",
            "stress_talk_short": "a_lot",
        },
        cause="substance_use",
        notice="professional_help_substance",
        screens={**SCREENS_CLEAR, "heavy_use": "yes"},
    ),
    Story(
        "controlling_partner",
        "My partner reads my messages, does not like me seeing my sister, calls me stupid, and I have "
        "started to feel afraid of them.",
        {"less_contact": "a_little"},
        notice="safety_control",
        screens={
            **SCREENS_CLEAR,
            "checks_phone": "yes",
            "isolates_you": "yes",
            "insults_you": "yes",
            "afraid_of_partner": "yes",
            "partner_jealous": "yes",
        },
    ),
    Story(
        "talk_of_not_wanting_to_live",
        "Nico has been low for weeks and last night said they do not want to be here any more.",
        {"shared_activities_gone": "yes"},
        notice="crisis",
        screens={**SCREENS_CLEAR, "self_harm_talk": "yes", "low_mood": "yes", "lost_interest": "yes"},
    ),
    Story(
        "low_mood_months",
        "For two months Mel has been flat and tired, lost interest in everything and pulls away from "
        "touch; nothing in particular happened.",
        {
            "shared_activities_gone": "yes",
            "tenses_at_touch": "sometimes",
            "says_im_fine": "often",
            "always_like_this": "new",
            "bereavement": "no",
        },
        cause="personal_struggles",
        notice="professional_help_mood",
        screens={**SCREENS_CLEAR, "low_mood": "yes", "lost_interest": "yes"},
    ),
    Story(
        "nothing_stands_out",
        "Things just feel a little less close lately; no big changes, no rows, nothing worrying.",
        {
            **CALM,
            "names_a_pressure": "no",
            "worn_out": "no",
            "energised_by_goal": "no",
            "stress_talk_short": "no",
            "anxious": "rarely",
            "rarely_alone_together": "no",
            "less_contact": "a_little",
            "less_connected": "somewhat",
            "less_affection": "no",
            "emotionally_closed": "never",
            "defensive": "never",
            "arguments_unresolved": "never",
            "longer_hours": "no",
            "money_worries": "no",
            "caring_for_relative": "no",
            "bereavement": "no",
            "secretive_phone": "no",
            "time_together_flat": "no",
            "new_role": "no",
            "new_studies": "no",
            "fitness_regime": "no",
            "free_time_on_goal": "none",
        },
        nothing=True,
    ),
]


@pytest.fixture(scope="module")
def model() -> Any:
    return load_model(MODEL)


def _notice_ids(model: Any, guidance: Any, answers: dict[str, Any], probs: Any) -> set[str]:
    """Notices shown by the guidance (contract: ``Guidance.notices``).

    Before the engine side lands, the contract's rule is applied here: a question's notice is
    raised by its trigger answers, a cause's notice when P(cause) reaches its threshold.
    """
    if hasattr(guidance, "notices"):
        return {n.id for n in guidance.notices}
    from distancing_bn.guidance import raised_notices

    ids = {n.id for n in raised_notices(model, answers)}
    for c in model.causes:
        for nid, threshold in model.spec.cause(c).notices:
            if probs[c] >= threshold:
                ids.add(nid)
    return ids


def _check(model: Any, story: Story, probs: Any, guidance: Any, answers: dict[str, Any]) -> None:
    rel = [c for c in model.relationship_causes]
    top = max(rel, key=lambda c: probs[c])
    if story.cause is not None:
        assert top == story.cause, (
            f"{story.name}: top {top} {probs[top]:.2f}, expected {story.cause} {probs[story.cause]:.2f}"
        )
    if story.notice is not None:
        shown = _notice_ids(model, guidance, answers, probs)
        assert story.notice in shown, f"{story.name}: notices {shown}"
    if story.nothing:
        assert probs[top] < 0.5, f"{story.name}: {top} {probs[top]:.2f}"
        if hasattr(guidance, "general"):
            assert guidance.general, f"{story.name}: no general guidance"
    if story.notice in ("safety_control", "crisis") and hasattr(guidance, "tips_withheld"):
        assert guidance.tips_withheld and not guidance.causes, f"{story.name}: tips shown"


def test_enough_stories() -> None:
    causes = {s.cause for s in STORIES if s.cause}
    assert len(STORIES) >= 15
    close = (
        "avoidant_attachment",
        "fear_of_intimacy",
        "emotional_unavailability",
        "external_stressors",
        "personal_struggles",
        "loss_of_attraction",
        "another_person",
        "communication_breakdown",
        "unmet_needs",
        "change_in_priorities",
    )
    for c in close:
        assert sum(s.cause == c for s in STORIES) >= 2, c
    assert causes >= set(close) | {"substance_use"}
    notices = {s.notice for s in STORIES}
    assert {"safety_control", "crisis", "professional_help_mood"} <= notices
    assert any(s.nothing for s in STORIES)


def test_stories_use_real_questions(model: Any) -> None:
    for s in STORIES:
        for q, a in s.answers.items():
            assert q in model.questions, (s.name, q)
            assert a in model.answers_of(q), (s.name, q, a)


@pytest.mark.parametrize("story", STORIES, ids=[s.name for s in STORIES])
def test_story_with_all_its_answers(model: Any, story: Story) -> None:
    post = model.posterior(story.answers)
    _check(model, story, post.probabilities, model.guidance(story.answers), story.answers)


def _group_answer(model: Any, group: str, story: Story) -> Any:
    known = {i: story.answers[i] for i in model.groups[group].items if i in story.answers}
    return known if known else "unsure"


@pytest.mark.parametrize("story", STORIES, ids=[s.name for s in STORIES])
def test_story_in_an_adaptive_session(model: Any, story: Story) -> None:
    from distancing_bn import Session

    session = Session(model)
    screens = set(model.screens)
    after = 0
    while after < MAX_AFTER_SCREENS:
        q = session.next_question()
        if q is None:
            break
        if model.is_group(q):
            session.answer(q, _group_answer(model, q, story))
        else:
            session.answer(q, story.answers.get(q, "unsure"))
        if q not in screens:
            after += 1
    assert screens <= set(session.asked) or screens <= set(session.answers), "screens not asked"
    post = session.posterior() if callable(session.posterior) else session.posterior
    guidance = session.guidance() if callable(session.guidance) else session.guidance
    _check(model, story, post.probabilities, guidance, dict(session.answers))
