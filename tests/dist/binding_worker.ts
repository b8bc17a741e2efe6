// Prints this process's binding facts and warning as JSON (run under mpirun by binding_test.ts).
import { bindingFacts, bindingWarning } from "../../src/dist/binding.ts";

const facts = bindingFacts();
console.log(JSON.stringify({ facts, warning: bindingWarning(facts) }));
