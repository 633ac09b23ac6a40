using DataManager.Tests.Infrastructure;

// One server of each kind for the whole run, started lazily by xunit when a test class asks for it.
[assembly: AssemblyFixture(typeof(MariaDbServer))]
[assembly: AssemblyFixture(typeof(NatsServer))]
[assembly: AssemblyFixture(typeof(MongoServer))]
