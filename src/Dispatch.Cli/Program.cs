using Dispatch.Cli;

return CommandLine.Build().Parse(args).Invoke();
