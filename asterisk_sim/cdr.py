"""CDR records as cdr_manager (AMI ``Cdr`` event) and cdr_csv (Master.csv) write them."""

from __future__ import annotations

from dataclasses import dataclass

from .events import Fields, local_time


@dataclass
class CdrRecord:
    source: str
    destination: str
    dcontext: str
    clid: str
    channel: str
    dstchannel: str
    lastapp: str
    lastdata: str
    start: float
    uniqueid: str
    linkedid: str
    sequence: int
    recordingfile: str
    answer: float | None = None
    end: float | None = None
    disposition: str = "NO ANSWER"
    accountcode: str = ""
    userfield: str = ""

    @property
    def duration(self) -> int:
        return int(max(0.0, (self.end or self.start) - self.start))

    @property
    def billsec(self) -> int:
        if self.answer is None:
            return 0
        return int(max(0.0, (self.end or self.answer) - self.answer))

    def event_fields(self, mappings: bool) -> Fields:
        out: Fields = [
            ("AccountCode", self.accountcode),
            ("Source", self.source),
            ("Destination", self.destination),
            ("DestinationContext", self.dcontext),
            ("CallerID", self.clid),
            ("Channel", self.channel),
            ("DestinationChannel", self.dstchannel),
            ("LastApplication", self.lastapp),
            ("LastData", self.lastdata),
            ("StartTime", local_time(self.start)),
            ("AnswerTime", "" if self.answer is None else local_time(self.answer)),
            ("EndTime", local_time(self.end or self.start)),
            ("Duration", str(self.duration)),
            ("BillableSeconds", str(self.billsec)),
            ("Disposition", self.disposition),
            ("AMAFlags", "DOCUMENTATION"),
            ("UniqueID", self.uniqueid),
            ("UserField", self.userfield),
        ]
        if mappings:
            out += [
                ("LinkedID", self.linkedid),
                ("Sequence", str(self.sequence)),
                ("RecordingFile", self.recordingfile),
            ]
        return out

    def csv_line(self) -> str:
        def q(s: str) -> str:
            return '"' + s.replace('"', '""') + '"'

        answer = "" if self.answer is None else q(local_time(self.answer))
        cols = [
            q(self.accountcode),
            q(self.source),
            q(self.destination),
            q(self.dcontext),
            q(self.clid),
            q(self.channel),
            q(self.dstchannel),
            q(self.lastapp),
            q(self.lastdata),
            q(local_time(self.start)),
            answer,
            q(local_time(self.end or self.start)),
            str(self.duration),
            str(self.billsec),
            q(self.disposition),
            q("DOCUMENTATION"),
            q(self.uniqueid),
            q(self.userfield),
        ]
        return ",".join(cols)

    def as_dict(self) -> dict[str, str]:
        return dict(self.event_fields(True))


def clid(name: str, num: str) -> str:
    return f'"{name}" <{num}>' if name else num
