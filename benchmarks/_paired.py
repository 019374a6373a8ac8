"""The asv side of a :class:`linssl.bench.Comparison`: time both sides and track their agreement.

Subclasses build ``self.case`` in ``setup``. The leading underscore keeps asv from collecting this
base class itself.
"""


class _Paired:
    number = 1
    warmup_time = 0

    def time_linssl(self, *params):
        self.case.linssl()

    def time_reference(self, *params):
        self.case.reference()

    def track_relative_difference(self, *params):
        """Largest relative difference between linssl's result and the reference's (see ``case.agreement_of``)."""
        return self.case.agreement(self.case.linssl(), self.case.reference())

    track_relative_difference.unit = "relative difference"
