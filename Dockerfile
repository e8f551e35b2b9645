# Image for the optional `celery` compose profile: the sandbox project with its pinned packages.
FROM python:3.12-slim
RUN useradd --create-home lab
WORKDIR /app
COPY requirements.txt pyproject.toml README.md ./
COPY cqlab ./cqlab
COPY sandbox_project ./sandbox_project
RUN pip install --no-cache-dir -r requirements.txt -e .
USER lab
WORKDIR /app/sandbox_project
