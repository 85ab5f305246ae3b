"""Issue 20, class 5, the example: the deployers allow-list was read from the local HEAD,
so an unpushed local commit adding mallory let mallory deploy. Here a project checkout
(ROVN_HOME) whose origin/main is the reviewed file gets a local commit adding mallory, and
mallory (an IAM user of the sandbox, her own keys) runs the deploy: refused (exit 3) by
the allow-list as origin/main has it, naming that commit."""
import shutil
import subprocess

from tests.conftest import ROOT, rovn_ops


def _git(where, *args) -> str:
    return subprocess.run(["git", "-C", str(where), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def test_an_unpushed_commit_adding_mallory_does_not_let_her_deploy(fresh, aws, evidence_dir, tmp_path):
    home = _reviewed_home(tmp_path, lambda t: t)
    reviewed = _git(home, "rev-parse", "HEAD")
    env_file = home / "parameters" / "sandbox.yaml"
    env_file.write_text(env_file.read_text().replace("deployers:", "deployers:\n  - user/mallory", 1))
    _git(home, "commit", "-qam", "add mallory")  # local only: never reviewed, never pushed
    iam = aws("iam")
    iam.create_user(UserName="mallory")
    key = iam.create_access_key(UserName="mallory")["AccessKey"]
    env = {"ROVN_HOME": str(home), "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
           "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    res = rovn_ops("run", "deploy", "--quiet", env=env)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "user/mallory is not on the deployers allow-list of parameters/sandbox.yaml at origin/main " \
        + reviewed[:12] in res.stdout, res.stdout
    # claude-deploy's preview names the commit the lists came from
    ok = rovn_ops("run", "deploy", "--quiet", env={"ROVN_HOME": str(home)})
    assert ok.returncode == 0, ok.stdout + ok.stderr


def _reviewed_home(tmp_path, edit):
    """A project checkout whose origin/main holds the environment files as reviewed (edited)."""
    home, remote = tmp_path / "runbooks-repo", tmp_path / "origin.git"
    shutil.copytree(ROOT / "parameters", home / "parameters")
    shutil.copytree(ROOT / "runbooks", home / "runbooks")
    env_file = home / "parameters" / "sandbox.yaml"
    env_file.write_text(edit(env_file.read_text()))
    _git(tmp_path, "init", "-q", "--bare", str(remote))
    _git(home.parent, "init", "-q", "-b", "main", str(home))
    _git(home, "add", "-A")
    _git(home, "commit", "-qm", "reviewed")
    _git(home, "remote", "add", "origin", str(remote))
    _git(home, "push", "-q", "origin", "main")
    return home


def test_a_role_session_named_after_an_approver_cannot_take_their_approval(fresh, aws, evidence_dir, tmp_path):
    """giles assumes the reviewed Deploy role with session name `giles` and names himself."""
    import json

    home = _reviewed_home(tmp_path, lambda t: t.replace("deployers:", "deployers:\n  - role/Deploy", 1))
    role = aws("iam").create_role(RoleName="Deploy", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]
    creds = aws("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="giles")["Credentials"]
    env = {"ROVN_HOME": str(home), "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
           "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"], "AWS_SESSION_TOKEN": creds["SessionToken"],
           "ROVN_LOCAL_USER": "deploy-box"}
    preview = rovn_ops("run", "rollback", "--quiet", "-p", "to_revision=rovn-passport-api:287", env=env)
    assert preview.returncode == 0, preview.stdout + preview.stderr
    plan_hash = preview.stdout.split("plan_hash=", 1)[1].split()[0]
    res = rovn_ops("run", "rollback", "--quiet", "-p", "to_revision=rovn-passport-api:287", "-p", "confirm=true",
                   "-p", "approved_by=giles", "-p", f"plan_hash={plan_hash}", env=env)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "approved_by: giles is the operator (arn:aws:sts::" in res.stdout and "assumed-role/Deploy/giles" \
        in res.stdout, res.stdout
