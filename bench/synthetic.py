"""Synthetic memories and queries for the performance benchmarks, reproducible from a seed.

Memories read like what extraction stores about one person ("Is planning a trip to Porto
with their sister Ana in October"): templates × vocabularies, each text drawn with several
independent slots so that no two are alike and neighbours differ in more than one word.
Numbers and dates are left out on purpose: two memories that differ only in a number are a
contradiction to de-duplication, and a load of 100k such pairs would measure conflict
handling rather than adds.

Queries are questions an agent would ask about the same person, drawn from the same
vocabularies ("Who is the user travelling with to Porto?"), so they have real answers.
"""

from __future__ import annotations

import random
from collections.abc import Callable

FIRST_NAMES = (
    "Ana Priya Tomás Kenji Lena Raj Olivia Marcus Sofia Dev Hannah Gabriel Nkechi Ethan Ingrid Wei Carlos "
    "Fatima Jonas Beatriz Sam Yusuf Eleanor Arjun Mei Patrick Chiara Omar Freya Mateo Aiko Daniel Zara Luca "
    "Noor Felix Imani Hugo Elif Rosa Bruno Tariq Greta Leon Maya Jasper Nadia Oskar Lucia Ravi Sven Amara"
).split()
RELATIONS = [
    "sister", "brother", "mother", "father", "daughter", "son", "cousin", "aunt", "uncle", "grandmother",
    "partner", "wife", "husband", "best friend", "neighbour", "flatmate", "manager", "colleague", "mentor",
    "teammate", "coach", "landlord", "dentist", "tutor",
]
CITIES = [
    "Porto", "Lisbon", "Kyoto", "Osaka", "Berlin", "Hamburg", "Vienna", "Prague", "Krakow", "Oslo", "Bergen",
    "Reykjavik", "Dublin", "Galway", "Edinburgh", "Glasgow", "Lyon", "Marseille", "Seville", "Valencia",
    "Bologna", "Naples", "Athens", "Istanbul", "Marrakesh", "Cairo", "Nairobi", "Cape Town", "Montreal",
    "Vancouver", "Seattle", "Austin", "Chicago", "Boston", "Mexico City", "Bogotá", "Lima", "Santiago",
    "Buenos Aires", "Hanoi", "Bangkok", "Singapore", "Seoul", "Taipei", "Melbourne", "Wellington", "Tallinn",
    "Riga", "Ljubljana", "Zagreb", "Sofia", "Bucharest",
]
MONTHS = "January February March April May June July August September October November December".split()
SEASONS = ["spring", "summer", "autumn", "winter", "the holidays", "the long weekend", "next year", "the new year"]
DRINKS = [
    "oat milk flat whites", "black coffee", "green tea", "rooibos", "sparkling water", "iced matcha", "chai lattes",
    "decaf espresso", "peppermint tea", "kombucha", "hot chocolate", "fresh orange juice", "cold brew", "earl grey",
]
FOODS = [
    "ramen", "dosa", "pho", "tacos al pastor", "sourdough pizza", "falafel wraps", "sushi", "paella", "dim sum",
    "lentil soup", "shakshuka", "pad thai", "bibimbap", "pierogi", "mezze platters", "jollof rice", "poke bowls",
    "mushroom risotto", "banh mi", "khachapuri", "tagine", "goulash", "laksa", "empanadas", "ceviche",
]
ACTIVITIES = [
    "reading", "cycling to work", "running long distances", "writing code", "studying", "travelling", "working late",
    "hiking", "gaming", "painting", "practising piano", "bouldering", "swimming laps", "gardening", "baking bread",
    "watching football", "playing chess", "doing yoga", "sketching", "birdwatching", "sailing", "climbing",
]
TIMES = ["in the morning", "in the evening", "at weekends", "on Mondays", "after lunch", "late at night",
         "before meetings", "on long flights", "on rainy days", "during the week", "on Friday afternoons"]
TECH = [
    "PostgreSQL", "SQLite", "Kafka", "Redis", "Kubernetes", "Terraform", "React", "Svelte", "Django", "FastAPI",
    "Rust", "Go", "TypeScript", "Elixir", "Spark", "Airflow", "dbt", "Snowflake", "ClickHouse", "gRPC", "GraphQL",
    "Flutter", "Swift", "Kotlin", "Haskell", "Julia", "PyTorch", "Pandas", "Polars", "DuckDB", "Nginx", "Vue",
]
SYSTEMS = [
    "billing service", "search API", "mobile app", "data warehouse", "recommendation engine", "payments gateway",
    "internal wiki", "CI pipeline", "analytics dashboard", "inventory system", "booking platform", "chat backend",
    "fraud model", "ETL jobs", "auth service", "reporting stack", "customer portal", "monitoring setup",
]
COMPANIES = [
    "Northwind", "Globex", "Initech", "Umbrella Labs", "Acme Robotics", "Hooli", "Stark Logistics", "Wayne Health",
    "Tyrell Systems", "Soylent Foods", "Cyberdyne", "Massive Dynamic", "Aperture Studio", "Vandelay Imports",
    "Pied Piper", "Oscorp Energy", "Wonka Confections", "Gringotts Bank", "Monarch Solutions", "Blue Sun",
]
HOBBY_OBJECTS = [
    "a vegetable patch", "a sourdough starter", "a vintage road bike", "a film camera", "a ukulele", "a telescope",
    "a balcony herb garden", "a 3D printer", "a sewing machine", "a kayak", "a chess set", "a pottery wheel",
    "an aquarium", "a record collection", "a mechanical keyboard", "a drone", "a bonsai tree", "a loom",
]
GOALS = [
    "run a half marathon", "learn conversational Japanese", "get an AWS certification", "read fifty books",
    "switch to a data science role", "pay off the car loan", "learn to sail", "write a short story collection",
    "build a mobile game", "climb a 6a route outdoors", "save for a flat deposit", "learn to cook Sichuan food",
    "finish a master's thesis", "launch a newsletter", "speak at a conference", "learn the cello",
    "cut screen time in half", "visit every national park in Portugal", "get promoted to staff engineer",
]
TOPICS = [
    "distributed systems", "typography", "medieval history", "marine biology", "jazz harmony", "urban planning",
    "behavioural economics", "bird migration", "compiler design", "fermentation", "Roman architecture",
    "machine learning ops", "astronomy", "linguistics", "climate policy", "game theory", "wine regions",
    "cryptography", "film noir", "sleep science", "Renaissance painting", "soil chemistry", "ocean currents",
]
PETS = ["a grey cat", "a rescue greyhound", "two budgies", "a corgi", "a tortoise", "a border collie",
        "three chickens", "a ginger cat", "a beagle", "a rabbit", "a parrot", "a husky", "a pair of guinea pigs"]
DISLIKES = [
    "long meetings", "open-plan offices", "voice notes", "cilantro", "horror films", "small talk at conferences",
    "early flights", "crowded trains", "loud restaurants", "spicy food", "group chats", "surprise parties",
    "camping in the rain", "waiting rooms", "pop-up notifications", "stand-up comedy", "musicals", "theme parks",
]
FORMATS = [
    "short bullet points", "step-by-step checklists", "worked examples", "diagrams", "Python snippets",
    "plain-language summaries", "tables", "analogies", "links to sources", "a TL;DR first", "Socratic questions",
]
PLACES = [
    "a cabin by the lake", "the old town", "a surf camp", "a vineyard", "the coast", "a mountain hut",
    "a jazz festival", "a food market", "a design conference", "a language school", "a yoga retreat",
    "a music festival", "a climbing gym", "a book fair", "a hackathon", "a wedding", "a research workshop",
]
PROCEDURES = [
    "runs the test suite before every push", "reviews pull requests first thing in the morning",
    "keeps a daily log in plain text", "backs up photos to an external drive on Sundays",
    "plans meals for the week on Saturday", "batches email twice a day", "writes a design doc before coding",
    "tracks expenses in a spreadsheet", "uses the Pomodoro technique", "stretches before every run",
    "blocks focus time in the calendar", "drafts talks as an outline first", "labels every freezer box",
]


def _pick(rng: random.Random, items: list[str] | tuple[str, ...]) -> str:
    return items[rng.randrange(len(items))]


Template = Callable[[random.Random], str]

MEMORY_TEMPLATES: list[Template] = [
    lambda r: f"Prefers {_pick(r, DRINKS)} when {_pick(r, ACTIVITIES)} {_pick(r, TIMES)}, a habit from {_pick(r, CITIES)}",
    lambda r: f"Is planning a trip to {_pick(r, CITIES)} with their {_pick(r, RELATIONS)} {_pick(r, FIRST_NAMES)} in {_pick(r, MONTHS)}",
    lambda r: f"Their {_pick(r, RELATIONS)} {_pick(r, FIRST_NAMES)} lives in {_pick(r, CITIES)} and loves {_pick(r, FOODS)}",
    lambda r: f"Is migrating the {_pick(r, SYSTEMS)} at {_pick(r, COMPANIES)} from {_pick(r, TECH)} to {_pick(r, TECH)}",
    lambda r: f"Wants to {_pick(r, GOALS)} before {_pick(r, SEASONS)}, with help from {_pick(r, FIRST_NAMES)} in {_pick(r, CITIES)}",
    lambda r: f"Knows {_pick(r, TECH)} well from building the {_pick(r, SYSTEMS)} at {_pick(r, COMPANIES)} with {_pick(r, FIRST_NAMES)}",
    lambda r: f"Dislikes {_pick(r, DISLIKES)}, especially {_pick(r, TIMES)} in {_pick(r, CITIES)}, since a trip with {_pick(r, FIRST_NAMES)}",
    lambda r: f"Likes answers about {_pick(r, TOPICS)} and {_pick(r, TOPICS)} as {_pick(r, FORMATS)} with {_pick(r, FORMATS)}",
    lambda r: f"Has {_pick(r, PETS)} and {_pick(r, HOBBY_OBJECTS)} at the flat in {_pick(r, CITIES)}; {_pick(r, FIRST_NAMES)} helps out",
    lambda r: f"Spent {_pick(r, SEASONS)} at {_pick(r, PLACES)} near {_pick(r, CITIES)} with {_pick(r, FIRST_NAMES)}",
    lambda r: f"{_pick(r, PROCEDURES).capitalize()} and {_pick(r, PROCEDURES)} while {_pick(r, ACTIVITIES)} {_pick(r, TIMES)}",
    lambda r: f"Is reading about {_pick(r, TOPICS)} and {_pick(r, TOPICS)} for a project with {_pick(r, FIRST_NAMES)}",
    lambda r: f"Cooks {_pick(r, FOODS)} for their {_pick(r, RELATIONS)} {_pick(r, FIRST_NAMES)} {_pick(r, TIMES)}",
    lambda r: f"Mentors {_pick(r, FIRST_NAMES)} on {_pick(r, TECH)} and {_pick(r, TOPICS)} at {_pick(r, COMPANIES)}",
    lambda r: f"Goes {_pick(r, ACTIVITIES)} with {_pick(r, FIRST_NAMES)} from {_pick(r, COMPANIES)} {_pick(r, TIMES)}",
    lambda r: f"Would like recommendations for {_pick(r, FOODS)} and {_pick(r, DRINKS)} in {_pick(r, CITIES)} for dinner with {_pick(r, FIRST_NAMES)}",
    lambda r: f"Is learning {_pick(r, TOPICS)} to {_pick(r, GOALS)}, practising {_pick(r, TIMES)} with {_pick(r, FIRST_NAMES)}",
    lambda r: f"Met {_pick(r, FIRST_NAMES)} at {_pick(r, PLACES)} in {_pick(r, CITIES)} and stays in touch about {_pick(r, TOPICS)}",
    lambda r: f"Keeps {_pick(r, HOBBY_OBJECTS)} for {_pick(r, ACTIVITIES)} and borrows {_pick(r, HOBBY_OBJECTS)} from {_pick(r, FIRST_NAMES)}",
    lambda r: f"Avoids {_pick(r, FOODS)} since a bad night in {_pick(r, CITIES)} with {_pick(r, FIRST_NAMES)}",
]

QUERY_TEMPLATES: list[Template] = [
    lambda r: f"What does the user like to drink when {_pick(r, ACTIVITIES)} {_pick(r, TIMES)}?",
    lambda r: f"Who is the user travelling to {_pick(r, CITIES)} with in {_pick(r, MONTHS)}?",
    lambda r: f"Where does the user's {_pick(r, RELATIONS)} {_pick(r, FIRST_NAMES)} live?",
    lambda r: f"Which system at {_pick(r, COMPANIES)} is the user migrating to {_pick(r, TECH)}?",
    lambda r: f"What does the user want to achieve before {_pick(r, SEASONS)} with {_pick(r, FIRST_NAMES)}?",
    lambda r: f"Does the user have experience with {_pick(r, TECH)} or {_pick(r, TECH)}?",
    lambda r: f"Why does the user dislike {_pick(r, DISLIKES)} in {_pick(r, CITIES)}?",
    lambda r: f"How should I explain {_pick(r, TOPICS)} to the user, with {_pick(r, FORMATS)}?",
    lambda r: f"Does the user keep {_pick(r, PETS)} or {_pick(r, HOBBY_OBJECTS)} at home?",
    lambda r: f"Where did the user go with {_pick(r, FIRST_NAMES)} in {_pick(r, SEASONS)}?",
    lambda r: f"What routine does the user follow when {_pick(r, ACTIVITIES)} {_pick(r, TIMES)}?",
    lambda r: f"Is the user reading about {_pick(r, TOPICS)} for a project with {_pick(r, FIRST_NAMES)}?",
    lambda r: f"What food does the user cook for {_pick(r, FIRST_NAMES)} {_pick(r, TIMES)}?",
    lambda r: f"Who does the user mentor on {_pick(r, TECH)} at {_pick(r, COMPANIES)}?",
    lambda r: f"Any restaurant ideas for the user and {_pick(r, FIRST_NAMES)} in {_pick(r, CITIES)}?",
    lambda r: f"Is the user avoiding {_pick(r, FOODS)} after something in {_pick(r, CITIES)}?",
    lambda r: f"How does {_pick(r, FIRST_NAMES)} know the user from {_pick(r, PLACES)}?",
    lambda r: f"what tech stack does the user use at {_pick(r, COMPANIES)} for the {_pick(r, SYSTEMS)}",
    lambda r: f"{_pick(r, FIRST_NAMES)} {_pick(r, CITIES)} {_pick(r, ACTIVITIES)}",
    lambda r: f"user's plans for {_pick(r, MONTHS)} in {_pick(r, CITIES)}",
]


def memory_texts(count: int, seed: int = 7) -> list[str]:
    """``count`` distinct memory texts (templates in turn, slots at random)."""
    return _distinct(MEMORY_TEMPLATES, count, seed)


def queries(count: int, seed: int = 11) -> list[str]:
    """``count`` distinct questions about the person (templates in turn, slots at random)."""
    return _distinct(QUERY_TEMPLATES, count, seed)


def _distinct(templates: list[Template], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    attempts = 0
    while len(out) < count:
        attempts += 1
        if attempts > 50 * count + 1000:
            raise RuntimeError(f"the vocabularies ran out of distinct texts after {len(out)}")
        text = templates[len(out) % len(templates)](rng)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


# First-person chat messages for "add with the default extractor": what a user actually types.
CHAT_TEMPLATES: list[Template] = [
    lambda r: f"I usually drink {_pick(r, DRINKS)} when I'm {_pick(r, ACTIVITIES)}",
    lambda r: f"my {_pick(r, RELATIONS)} {_pick(r, FIRST_NAMES)} lives in {_pick(r, CITIES)}",
    lambda r: f"I'm migrating our {_pick(r, SYSTEMS)} from {_pick(r, TECH)} to {_pick(r, TECH)} at work",
    lambda r: f"I want to {_pick(r, GOALS)} before {_pick(r, SEASONS)}",
    lambda r: f"I've worked with {_pick(r, TECH)} for years, mostly on the {_pick(r, SYSTEMS)}",
    lambda r: f"honestly I can't stand {_pick(r, DISLIKES)}",
    lambda r: f"please explain things with {_pick(r, FORMATS)}, it helps me a lot",
    lambda r: f"I have {_pick(r, PETS)} and {_pick(r, HOBBY_OBJECTS)}",
    lambda r: f"We're going to {_pick(r, CITIES)} with {_pick(r, FIRST_NAMES)} in {_pick(r, MONTHS)}",
    lambda r: f"I always {_first_person(_pick(r, PROCEDURES))}",
    lambda r: "thanks, that's great!",
    lambda r: "can you make that shorter?",
    lambda r: f"I'm really into {_pick(r, TOPICS)} these days",
    lambda r: f"I work at {_pick(r, COMPANIES)} as a {_pick(r, ['data engineer', 'designer', 'nurse', 'teacher', 'product manager', 'researcher'])}",
    lambda r: f"I love {_pick(r, FOODS)} but I'm avoiding {_pick(r, FOODS)} for now",
    lambda r: "ok",
]


def _first_person(procedure: str) -> str:
    """ "runs the tests" → "run the tests" (the vocabulary's verbs are regular)."""
    verb, _, rest = procedure.partition(" ")
    verb = verb[:-2] if verb.endswith(("ches", "shes")) else verb[:-1]
    return f"{verb} {rest}"


def chat_messages(count: int, seed: int = 13) -> list[str]:
    """User turns as typed (some small talk and instructions among them, as in real chats)."""
    rng = random.Random(seed)
    return [CHAT_TEMPLATES[rng.randrange(len(CHAT_TEMPLATES))](rng) for _ in range(count)]
